// harness.ts: runs an independent PyTorch implementation of an op (test/torch/<family>.py, float64,
// autograd for gradients) on the same inputs as steprl, for side-by-side checks. Inputs and outputs
// cross as raw little-endian files plus a JSON manifest in a temporary folder.
// PyTorch comes from Debian (`apt-get install python3-torch`) for /usr/bin/python3, or from
// STEPRL_TORCH_PYTHON; when it is missing, the torch suites are skipped and say so.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const PYTHON = process.env.STEPRL_TORCH_PYTHON ?? '/usr/bin/python3';

let available: boolean | null = null;

export function torchAvailable(): boolean {
  if (available === null) {
    const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
    available = probe.status === 0;
    if (!available)
      console.warn(`PyTorch not found for ${PYTHON}: the side-by-side PyTorch checks are skipped (apt-get install python3-torch)`);
  }
  return available;
}

/** `describe` when PyTorch is installed, `describe.skip` otherwise. */
export const describeTorch = (name: string, body: () => void): void =>
  (torchAvailable() ? describe : describe.skip)(`${name} (PyTorch float64 autograd)`, body);

type Input = Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array;
const DTYPE_NAMES: Record<string, string> = {
  Float32Array: 'float32', Float64Array: 'float64', Int32Array: 'int32', Uint8Array: 'uint8', Uint16Array: 'uint16',
};

/** Runs test/torch/<script>.py on `inputs`; returns its float64 outputs (and scalars). */
export function runTorch(
  script: string, inputs: Record<string, Input>, params: Record<string, unknown> = {},
): Record<string, Float64Array> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-torch-'));
  try {
    const manifest: Record<string, { dtype: string; file: string }> = {};
    for (const [name, array] of Object.entries(inputs)) {
      const file = `${name}.bin`;
      fs.writeFileSync(path.join(dir, file), Buffer.from(array.buffer, array.byteOffset, array.byteLength));
      manifest[name] = { dtype: DTYPE_NAMES[Object.prototype.toString.call(array).slice(8, -1)], file };
    }
    fs.writeFileSync(path.join(dir, 'inputs.json'), JSON.stringify({ inputs: manifest, params }));
    const run = spawnSync(PYTHON, [path.join(__dirname, `${script}.py`), dir], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`torch script ${script}.py failed:\n${run.stderr}`);
    const outputs = JSON.parse(fs.readFileSync(path.join(dir, 'outputs.json'), 'utf8')) as Record<string, string>;
    const result: Record<string, Float64Array> = {};
    for (const [name, file] of Object.entries(outputs)) {
      const bytes = fs.readFileSync(path.join(dir, file));
      result[name] = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    }
    return result;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
