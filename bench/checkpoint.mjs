// checkpoint.mjs: load and save of a checkpoint of the exact Qwen2.5-0.5B shape (24 layers, d=896,
// F=4864, V=151936, 14 heads / 2 kv heads, head_dim 64, tied embeddings, q/k/v bias; 494M
// parameters) in float32 (1.98 GB file) and bfloat16 (0.99 GB file): seconds, GB/s of file data,
// and peak resident memory. Each measurement runs in a fresh child process (peak RSS is per
// process: VmHWM), with the file warm in the page cache (a warm-up load runs first). Save is timed
// whole (streamed write, then the fsyncs and renames that make it atomic) and as the streamed
// write alone (writeSafetensorsFile, no fsync), since the fsync runs at the disk's write speed.
// Beside them, where /usr/bin/python3 has torch: a safetensors-style read in PyTorch (the whole
// file read into memory, torch.frombuffer per tensor, bf16 widened with .float()).
// It needs ~4 GB of memory and ~3 GB of disk under $TMPDIR, so it is not part of `npm run bench`:
//   npm run bench:checkpoint [-- --runs N]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const python = process.env.STEPRL_TORCH_PYTHON ?? '/usr/bin/python3';
const QWEN05B = {
  architecture: 'qwen2', vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, numLayers: 24, numHeads: 14, numKvHeads: 2,
  headDim: 64, tieEmbeddings: true, ropeTheta: 1e6, rmsNormEps: 1e-6, maxPositions: 32768,
};

/** Resident memory of this process from /proc (bytes): current and peak. */
function memory() {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)[1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

async function child(mode, dir, out) {
  const { TinyLM } = await import(path.join(root, 'dist', 'model', 'tinylm.js')).then((m) => m.default ?? m);
  const { writeSafetensorsFile } = await import(path.join(root, 'dist', 'model', 'safetensors.js')).then((m) => m.default ?? m);
  if (mode === 'create') {
    const model = TinyLM.create(QWEN05B, { seed: 1 });
    model.save(path.join(dir, 'f32'));
    model.save(path.join(dir, 'bf16'), { dtype: 'bfloat16' });
    return { parameters: model.numParameters };
  }
  const before = memory();
  let start = performance.now();
  const model = TinyLM.load(dir);
  const loadSeconds = (performance.now() - start) / 1e3;
  const loaded = memory();
  if (mode === 'load') return { seconds: loadSeconds, baseline: before.rss, rss: loaded.rss, peak: loaded.peak };
  const dtype = mode === 'save-bf16' ? 'bfloat16' : 'float32';
  start = performance.now();
  model.save(out, { dtype });
  const saveSeconds = (performance.now() - start) / 1e3;
  const afterSave = memory();
  // The streamed write alone, into a file next to the checkpoint (no fsync).
  const values = model.weightBuffer._storage();
  const tensors = model.specs.map((s) => ({ name: s.name, dtype: dtype === 'float32' ? 'F32' : 'BF16', shape: s.shape, data: values.subarray(s.offset, s.offset + s.numel) }));
  start = performance.now();
  writeSafetensorsFile(path.join(out, 'stream-only.safetensors'), tensors);
  const writeSeconds = (performance.now() - start) / 1e3;
  return { seconds: saveSeconds, writeSeconds, rss: loaded.rss, peak: afterSave.peak };
}

function spawnChild(mode, dir, out = '') {
  const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', mode, dir, out], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`${mode} ${dir} failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop());
}

const TORCH_READ = `
import json, resource, struct, sys, time, torch
torch.set_num_threads(${os.cpus().length})
path = sys.argv[1]
start = time.perf_counter()
with open(path, 'rb') as f:
    data = bytearray(f.read())
n = struct.unpack('<Q', data[:8])[0]
header = json.loads(data[8:8 + n])
base = 8 + n
types = {'F32': torch.float32, 'BF16': torch.bfloat16, 'F16': torch.float16}
tensors = {}
for name, info in header.items():
    if name == '__metadata__':
        continue
    b, e = info['data_offsets']
    t = torch.frombuffer(data, dtype=types[info['dtype']], offset=base + b, count=(e - b) // (2 if info['dtype'] != 'F32' else 4))
    tensors[name] = t.reshape(info['shape']).float() if info['dtype'] != 'F32' else t.reshape(info['shape']).clone()
del data
seconds = time.perf_counter() - start
print(json.dumps({'seconds': seconds, 'peak': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, 'torch': torch.__version__}))
`;

function torchRead(file) {
  if (spawnSync(python, ['-c', 'import torch']).status !== 0) return null;
  const run = spawnSync(python, ['-c', TORCH_READ, file], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`torch read failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim());
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const GB = (b) => (b / 1e9).toFixed(2);

if (process.argv[2] === '--child') {
  const [mode, dir, out] = process.argv.slice(3);
  console.log(JSON.stringify(await child(mode, dir, out)));
} else {
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-ckpt-bench-'));
  try {
    const { parameters } = spawnChild('create', work);
    console.log(`Qwen2.5-0.5B shape: ${parameters} parameters; ${os.cpus().length} CPUs; ${runs} runs per row (median), each in a fresh process`);
    const lines = ['| row | file GB | median s | GB/s of file | peak RSS GB | RSS after load GB | peak - final RSS MB | torch s | torch peak RSS GB |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|'];
    for (const dtype of ['f32', 'bf16']) {
      const dir = path.join(work, dtype);
      const file = path.join(dir, 'model.safetensors');
      const bytes = fs.statSync(file).size;
      spawnChild('load', dir);  // warm the page cache
      const loads = Array.from({ length: runs }, () => spawnChild('load', dir));
      const torch = (() => {
        const r = Array.from({ length: runs }, () => torchRead(file));
        return r[0] === null ? null : { seconds: median(r.map((x) => x.seconds)), peak: median(r.map((x) => x.peak)) };
      })();
      const s = median(loads.map((l) => l.seconds)), peak = median(loads.map((l) => l.peak)), rss = median(loads.map((l) => l.rss));
      lines.push(`| load ${dtype} | ${GB(bytes)} | ${s.toFixed(3)} | ${(bytes / 1e9 / s).toFixed(2)} | ${GB(peak)} | ${GB(rss)} | ${((peak - rss) / 1e6).toFixed(0)} | ${torch ? torch.seconds.toFixed(3) : ''} | ${torch ? GB(torch.peak) : ''} |`);
      const saves = Array.from({ length: runs }, (_, i) => {
        const out = path.join(work, `save-${dtype}-${i}`);
        const r = spawnChild(dtype === 'bf16' ? 'save-bf16' : 'save-f32', path.join(work, 'f32'), out);
        fs.rmSync(out, { recursive: true, force: true });
        return r;
      });
      const ss = median(saves.map((x) => x.seconds)), ws = median(saves.map((x) => x.writeSeconds));
      const speak = median(saves.map((x) => x.peak)), srss = median(saves.map((x) => x.rss));
      lines.push(`| save ${dtype} (atomic, fsync) | ${GB(bytes)} | ${ss.toFixed(3)} | ${(bytes / 1e9 / ss).toFixed(2)} | ${GB(speak)} | ${GB(srss)} | ${((speak - srss) / 1e6).toFixed(0)} | | |`);
      lines.push(`| save ${dtype} (streamed write only) | ${GB(bytes)} | ${ws.toFixed(3)} | ${(bytes / 1e9 / ws).toFixed(2)} | | | | | |`);
    }
    console.log(lines.join('\n'));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
