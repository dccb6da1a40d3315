// checkpoint_big.test.ts: a real checkpoint file over 4 GiB (a 2^20-token vocabulary of width 1024:
// a 4 GiB embedding, then the layers at offsets above 2^32) loads and round-trips bit-exactly.
// The source file is sparse (mostly holes, a few MB of disk); the save writes 4.3 GB for real and
// the model takes 4.3 GB of memory, so the test is opt-in:
//   STEPRL_BIG_CHECKPOINT_TEST=1 flock /tmp/steprl-bigmem.lock npx jest test/model/checkpoint_big.test.ts
// (checkpoint_format.test.ts reads tensors past 4 GiB of a sparse file in every run.)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { resolveConfig, toHuggingFace } from '../../lib/model/config';
import { parameterSpecs } from '../../lib/model/params';
import { readSafetensorsHeader } from '../../lib/model/safetensors';
import { TinyLM } from '../../lib/model/tinylm';
import { Rng } from '../util/random';

const enabled = process.env.STEPRL_BIG_CHECKPOINT_TEST === '1';
(enabled ? test : test.skip)('a checkpoint file over 4 GiB loads and round-trips bit-exactly', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-big-'));
  try {
    const config = resolveConfig({ vocabSize: 2 ** 20, hiddenSize: 1024, intermediateSize: 64, numLayers: 1, numHeads: 4, tieEmbeddings: true });
    const { specs } = parameterSpecs(config);
    const source = path.join(tmp, 'source');
    fs.mkdirSync(source);
    fs.writeFileSync(path.join(source, 'config.json'), JSON.stringify(toHuggingFace(config, 'float32')));
    // The header by hand (no 4 GiB array needed), then holes, then chosen data written in place.
    const header: Record<string, unknown> = {};
    const fileOffset = new Map<string, number>();
    let offset = 0;
    for (const s of specs) {
      header[s.name] = { dtype: 'F32', shape: s.shape, data_offsets: [offset, offset + 4 * s.numel] };
      fileOffset.set(s.name, offset);
      offset += 4 * s.numel;
    }
    const json = Buffer.from(JSON.stringify(header));
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    const dataStart = 8 + json.length;
    const file = path.join(source, 'model.safetensors');
    const rng = new Rng(3);
    // Rows of the embedding at its start, around 2 GiB and at its end; every other tensor whole
    // (all of those lie past 4 GiB in the file).
    const embedding = specs[0];
    const written = [0, 2 ** 19 - 1, 2 ** 19, 2 ** 20 - 1].map((row) => ({ spec: embedding, index: row * 1024, values: rng.floats(1024) }));
    for (const s of specs.slice(1)) written.push({ spec: s, index: 0, values: rng.floats(s.numel) });
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, Buffer.concat([prefix, json]));
    fs.ftruncateSync(fd, dataStart + offset);
    for (const w of written)
      fs.writeSync(fd, new Uint8Array(w.values.buffer), 0, w.values.byteLength, dataStart + fileOffset.get(w.spec.name)! + 4 * w.index);
    fs.closeSync(fd);
    expect(fs.statSync(file).size).toBeGreaterThan(2 ** 32 + 2 ** 20);
    expect(fileOffset.get(specs[1].name)!).toBeGreaterThanOrEqual(2 ** 32);

    const model = TinyLM.load(source);
    const values = model.weightBuffer._storage() as Float32Array;
    // Every chosen value in place, zeros everywhere else.
    let nonzero = 0;
    for (const w of written) {
      const start = w.spec.offset + w.index;
      expect(values.subarray(start, start + w.values.length)).toEqual(w.values);
      nonzero += w.values.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0);
    }
    let count = 0;
    for (let i = 0; i < values.length; i++) if (values[i] !== 0) count++;
    expect(count).toBe(nonzero);

    const copy = path.join(tmp, 'copy');
    model.save(copy);
    model.dispose();
    const a = readSafetensorsHeader(file), b = readSafetensorsHeader(path.join(copy, 'model.safetensors'));
    expect([...b.entries.values()]).toEqual([...a.entries.values()]);
    expect(b.fileBytes - b.dataStart).toBe(a.fileBytes - a.dataStart);
    const fa = fs.openSync(file, 'r'), fb = fs.openSync(path.join(copy, 'model.safetensors'), 'r');
    const ba = Buffer.alloc(2 ** 26), bb = Buffer.alloc(2 ** 26);
    for (let pos = 0; pos < a.fileBytes - a.dataStart; pos += ba.length) {
      const n = fs.readSync(fa, ba, 0, ba.length, a.dataStart + pos);
      expect(fs.readSync(fb, bb, 0, bb.length, b.dataStart + pos)).toBe(n);
      if (ba.compare(bb, 0, n, 0, n) !== 0) throw new Error(`data differ in the 64 MiB block at ${pos}`);
    }
    fs.closeSync(fa);
    fs.closeSync(fb);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
