// checkpoint_kill.test.ts: a process killed (SIGKILL) at random moments while it saves checkpoints
// over and over never leaves a torn one: after every kill, the folder loads and holds one of the
// complete versions that were being written.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { TinyLM } from '../../lib/model/tinylm';
import { Rng } from '../util/random';

const root = path.resolve(__dirname, '..', '..');
const config = { vocabSize: 300, hiddenSize: 128, intermediateSize: 256, numLayers: 4, numHeads: 4 };

const writer = `
const { TinyLM } = require(${JSON.stringify(path.join(root, 'dist', 'model', 'tinylm.js'))});
const models = [1, 2].map((seed) => TinyLM.create(${JSON.stringify(config)}, { seed }));
let i = 0;
process.stdout.write('ready\\n');
for (;;) models[i++ % 2].save(process.argv[1]);
`;

test('SIGKILL during save leaves a loadable checkpoint', async () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-kill-')), 'ckpt');
  const versions = [1, 2].map((seed) => TinyLM.create(config, { seed }).weightBuffer.toArray());
  TinyLM.create(config, { seed: 1 }).save(dir);
  const rng = new Rng(9);
  for (let round = 0; round < 8; round++) {
    const child = spawn(process.execPath, ['-e', writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 20 + rng.int(0, 200)));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const loaded = TinyLM.load(dir).weightBuffer.toArray();
    expect(versions.some((v) => Buffer.compare(Buffer.from(v.buffer), Buffer.from(loaded.buffer)) === 0)).toBe(true);
  }
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});

test('a later save removes the temporaries of writers that died', () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-stale-'));
  fs.mkdirSync(path.join(parent, '.ckpt.999999.1.tmp'));  // no such process
  TinyLM.create({ vocabSize: 10, hiddenSize: 16, numLayers: 1, numHeads: 2 }).save(path.join(parent, 'ckpt'));
  expect(fs.readdirSync(parent)).toEqual(['ckpt']);
  fs.rmSync(parent, { recursive: true, force: true });
});
