// checkpoint_kill_sharded.test.ts: a process killed (SIGKILL) at random moments while it saves over
// and over, alternating a sharded checkpoint (index + shards) and a single-file one of another
// model, never leaves a torn checkpoint: after every kill the folder loads and holds one of the
// two complete versions (the streamed writes happen in a temporary folder swapped in whole).
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
for (;;) {
  const k = i++ % 2;
  models[k].save(process.argv[1], k === 0 ? { maxShardSize: 500000 } : {});
}
`;

test('SIGKILL during sharded and single-file saves leaves a loadable checkpoint', async () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-kill-shards-')), 'ckpt');
  const versions = [1, 2].map((seed) => TinyLM.create(config, { seed }).weightBuffer.toArray());
  TinyLM.create(config, { seed: 1 }).save(dir, { maxShardSize: 500000 });
  expect(fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(3);
  const rng = new Rng(17);
  for (let round = 0; round < 8; round++) {
    const child = spawn(process.execPath, ['-e', writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 20 + rng.int(0, 300)));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const loaded = TinyLM.load(dir).weightBuffer.toArray();
    const which = versions.findIndex((v) => Buffer.compare(Buffer.from(v.buffer), Buffer.from(loaded.buffer)) === 0);
    expect(which).toBeGreaterThanOrEqual(0);
  }
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});
