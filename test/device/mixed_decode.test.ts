// mixed_decode.test.ts: generate() of a TinyLM with precision 'bf16-mixed' on cuda (bf16 GEMM
// operands from the model's bf16 weight copy, a bfloat16 KV cache into the bf16 FlashAttention
// kernels, float32 residual stream, logits and log-probs) against the fp32 cpu model of the same weights.
// (a) greedy and sampled decode: every step's log-prob within LOGPROB_ATOL of the fp32 cpu
//     teacher-forced log-prob of the same token; greedy tokens equal fp32's up to each row's first
//     near-tie (see below);
// (b) prefill + decode against the full-sequence bf16-mixed forward of the same tokens (the same
//     bf16 roundings of the same values, in a different kernel order): much closer than to fp32;
// (c) the KV cache is bfloat16 and takes half the fp32 cache's device bytes (the allocator's
//     live-byte counter around the cache generate() allocates).
// Runs only where a cuda device is tested (STEPRL_BACKEND=cuda-sim STEPRL_TEST_DEVICES=cuda).
//
// Tolerance. As in mixed_precision.test.ts: rounding to bf16 has relative error <= 2^-9, each
// bf16 GEMM (fp32 accumulation) adds a random-walk error ~2^-8 of its output's norm, and errors
// add in quadrature along the chain. A decode step is a forward: per layer q/k/v, o_proj, gate/up
// and down in series plus attention's bf16 q, k, v and P (~6 roundings), then the lm_head: for
// this 2-layer model ~sqrt(2·6 + 1) ≈ 3.6·2^-8 of the logits' norm, below REL = 4·2^-8. A
// log-prob ℓ = z_t − logsumexp(z) moves by at most 2·max|δz|, and |δz| <= REL·max|z| (per-element
// errors of a row sit at or below its norm-relative error times its largest entry, the logits
// being of one scale here): LOGPROB_ATOL = 2·REL·max(1, max|z|), max|z| taken from the fp32 logits.
// Greedy near-ties: two logits whose fp32 gap is below 2·REL·max|z| may swap under bf16, and from
// a swapped token on the two runs decode different sequences. So greedy tokens are compared up to
// each row's first step whose fp32 margin (top-1 minus top-2 logit, teacher-forced on the cpu along
// the fp32 sequence) is below that, and each row must have at least one step compared; after it,
// (a)'s log-prob check still covers every step. Sampled tokens are not compared (a sample flips
// when its uniform falls within the CDF's bf16 error of a boundary; the log-prob check covers them).
import { Tensor, cudaInfo, type Device } from '../../lib';
import { TinyLM } from '../../lib/model/tinylm';
import { allocateKvCache, kvCacheDtype } from '../../lib/model/generate';
import { resolveConfig, type TinyLMConfigInput } from '../../lib/model/config';
import type { SamplingOptions } from '../../lib/model/policy';
import { describeOn } from '../util/devices';
import { Rng } from '../util/random';

const U = 2 ** -8;
const REL = 4 * U;
const CONFIG = { vocabSize: 48, hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 96, maxPositions: 32 };
// Both decode recipes of transformerLayer: Llama, and Qwen3's per-head q/k norms (head_dim 16 != hidden / heads) with tied embeddings.
const CONFIGS: Record<string, TinyLMConfigInput> = {
  'llama GQA': CONFIG,
  'qwen3 q/k norm, tied embeddings': {
    architecture: 'qwen3', vocabSize: 48, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, intermediateSize: 48,
    maxPositions: 32, tieEmbeddings: true,
  },
};
const NEW = 6;
/** The lm_head's scale-up: logits of a few units (clear greedy margins, log-probs away from 0 and from saturation). */
const SHARPEN = 4;

function prompts(): Int32Array[] {  // token ids below every config's vocabulary
  const rng = new Rng(17);
  return [rng.ints(5, 0, CONFIG.vocabSize), rng.ints(3, 0, CONFIG.vocabSize), rng.ints(4, 0, CONFIG.vocabSize)];
}

/** A model whose logits are far from uniform: the init's lm_head scaled up, so greedy margins are mostly clear. */
function model(device: Device, precision: 'fp32' | 'bf16-mixed', config: TinyLMConfigInput = CONFIG): TinyLM {
  const m = TinyLM.create(config, { seed: 4, device, precision });
  const values = m.weightBuffer.toFloat32();
  const head = m.specs.find((s) => s.name === 'lm_head.weight') ?? m.specs.find((s) => s.name === 'model.embed_tokens.weight')!;
  for (let i = head.offset; i < head.offset + head.numel; i++) values[i] *= SHARPEN;
  m.weightBuffer.copyFrom(Tensor.from(values, [values.length], { device }));
  m.markWeightsChanged();
  return m;
}

interface Decoded {
  tokens: Int32Array;  // [B, NEW]
  logprobs: Float32Array;
}

async function decode(m: TinyLM, options: SamplingOptions): Promise<Decoded> {
  const out = await m.generate(prompts(), options);
  expect(out.tokens.shape).toEqual([3, NEW]);  // no stop tokens: every row runs NEW steps
  const result = { tokens: out.tokens.toArray() as Int32Array, logprobs: out.logprobs.toFloat32() };
  for (const t of [out.tokens, out.mask, out.logprobs, out.entropy]) t.dispose();
  return result;
}

/**
 * Teacher-forced logits of each row's left-padded prompt followed by its decoded tokens: per step
 * t the logits [V] after the prompt and tokens[0, t) (what generate's step t sampled from).
 */
async function teacherForced(m: TinyLM, tokens: Int32Array): Promise<Float32Array[][]> {
  const ps = prompts(), B = ps.length, P = Math.max(...ps.map((p) => p.length)), S = P + NEW, V = m.config.vocabSize;
  const seq = new Int32Array(B * S), start = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    start[b] = P - ps[b].length;
    seq.set(ps[b], b * S + start[b]);
    seq.set(tokens.subarray(b * NEW, (b + 1) * NEW), b * S + P);
  }
  const input = Tensor.from(seq, [B, S], { device: m.device });
  const logits = (await m.forward(input, { attentionStart: start })).toFloat32();
  input.dispose();
  return Array.from({ length: B }, (_, b) => Array.from({ length: NEW }, (_, t) => logits.slice((b * S + P - 1 + t) * V, (b * S + P + t) * V)));
}

function logSoftmaxAt(z: Float32Array, index: number): number {
  let max = -Infinity;
  for (const v of z) max = Math.max(max, v);
  let sum = 0;
  for (const v of z) sum += Math.exp(v - max);
  return z[index] - max - Math.log(sum);
}

function margin(z: Float32Array): number {
  let first = -Infinity, second = -Infinity;
  for (const v of z) {
    if (v > first) [first, second] = [v, first];
    else if (v > second) second = v;
  }
  return first - second;
}

describeOn('cuda', "generate() under 'bf16-mixed' on cuda", () => {
  test.each(Object.keys(CONFIGS))('%s: greedy and sampled decode match the fp32 cpu decode within the bf16 tolerance', async (name) => {
    const cpu = model('cpu', 'fp32', CONFIGS[name]), cuda = model('cuda', 'bf16-mixed', CONFIGS[name]);
    expect(cuda.weightBuffer.toFloat32()).toEqual(cpu.weightBuffer.toFloat32());
    for (const options of [{ maxNewTokens: NEW, temperature: 0 }, { maxNewTokens: NEW, temperature: 1, seed: 9 }]) {
      const mixed = await decode(cuda, options), fp32 = await decode(cpu, options);
      // fp32 references for the mixed run's tokens, and the greedy margins along fp32's own sequence.
      const forced = await teacherForced(cpu, mixed.tokens), own = await teacherForced(cpu, fp32.tokens);
      let maxLogit = 1;
      for (const row of [...forced, ...own]) for (const z of row) for (const v of z) maxLogit = Math.max(maxLogit, Math.abs(v));
      const atol = 2 * REL * maxLogit;
      let worst = 0, worstCpu = 0;
      for (let b = 0; b < 3; b++) {
        for (let t = 0; t < NEW; t++) {
          const i = b * NEW + t;
          worst = Math.max(worst, Math.abs(mixed.logprobs[i] - logSoftmaxAt(forced[b][t], mixed.tokens[i])));
          worstCpu = Math.max(worstCpu, Math.abs(fp32.logprobs[i] - logSoftmaxAt(own[b][t], fp32.tokens[i])));
        }
      }
      let compared = 0, nearTies = 0;
      if (options.temperature === 0) {
        for (let b = 0; b < 3; b++) {
          let t = 0;
          for (; t < NEW && margin(own[b][t]) >= atol; t++) {
            expect([b, t, mixed.tokens[b * NEW + t]]).toEqual([b, t, fp32.tokens[b * NEW + t]]);
            compared++;
          }
          if (t < NEW) nearTies++;
          expect([b, t > 0]).toEqual([b, true]);
        }
      }
      console.log(`${name}, decode T=${options.temperature}: max|logit| ${maxLogit.toFixed(3)}, log-prob atol ${atol.toExponential(2)}, `
        + `max |Δlogprob| bf16-mixed vs fp32 cpu ${worst.toExponential(2)} (fp32 cpu decode vs its forward ${worstCpu.toExponential(2)}), `
        + (options.temperature === 0 ? `greedy tokens compared ${compared} of ${3 * NEW} (rows stopped at a near-tie: ${nearTies}), ` : '')
        + `tokens equal ${mixed.tokens.filter((x, i) => x === fp32.tokens[i]).length} of ${3 * NEW}`);
      // The decode did run in bf16 (fp32's own decode-vs-forward difference is ~1e-6).
      expect(worst).toBeGreaterThan(1e-4);
      expect(worst).toBeLessThan(atol);
      expect(worstCpu).toBeLessThan(1e-4);
    }
    cpu.dispose();
    cuda.dispose();
  });

  test.each(Object.keys(CONFIGS))('%s: prefill + decode matches the full-sequence bf16-mixed forward', async (name) => {
    const cuda = model('cuda', 'bf16-mixed', CONFIGS[name]), cpu = model('cpu', 'fp32', CONFIGS[name]);
    for (const options of [{ maxNewTokens: NEW, temperature: 0 }, { maxNewTokens: NEW, temperature: 1, seed: 5 }]) {
      const mixed = await decode(cuda, options);
      const full = await teacherForced(cuda, mixed.tokens), fp32 = await teacherForced(cpu, mixed.tokens);
      let toFull = 0, toFp32 = 0;
      for (let b = 0; b < 3; b++) {
        for (let t = 0; t < NEW; t++) {
          const i = b * NEW + t;
          toFull = Math.max(toFull, Math.abs(mixed.logprobs[i] - logSoftmaxAt(full[b][t], mixed.tokens[i])));
          toFp32 = Math.max(toFp32, Math.abs(mixed.logprobs[i] - logSoftmaxAt(fp32[b][t], mixed.tokens[i])));
        }
      }
      console.log(`${name}, T=${options.temperature}: max |Δlogprob| decode vs full bf16-mixed forward ${toFull.toExponential(2)}, vs fp32 ${toFp32.toExponential(2)}`);
      // Same bf16 roundings of the same values; only the fp32 accumulation order differs (decode's
      // kernels, GEMMs of B rows instead of B·T), which now and then flips one bf16 rounding of an
      // intermediate (one bf16 ulp, 2^-8 relative, of one element): far below the fp32 comparison.
      expect(toFull).toBeLessThan(Math.max(toFp32 / 4, 1e-5));
    }
    cuda.dispose();
    cpu.dispose();
  });

  test('the KV cache is bfloat16: half the bytes of the fp32 cache', () => {
    expect(kvCacheDtype(true)).toBe('bfloat16');
    expect(kvCacheDtype(false)).toBe('float32');
    const B = 4, Smax = 16;  // 8 KiB and 4 KiB per tensor: whole 512-byte allocator buckets on a GPU too
    const bytes = (dtype: 'float32' | 'bfloat16') => {
      const before = cudaInfo()!.allocator.liveBytes;
      const caches = allocateKvCache(resolveConfig(CONFIG), B, Smax, 'cuda', dtype);
      const used = cudaInfo()!.allocator.liveBytes - before;
      for (const c of caches) for (const t of [c.k, c.v]) expect(t.dtype).toBe(dtype);
      for (const c of caches) {
        c.k.dispose();
        c.v.dispose();
      }
      return used;
    };
    const fp32 = bytes('float32'), bf16 = bytes('bfloat16');
    const elements = 2 * CONFIG.numLayers * B * Smax * CONFIG.numKvHeads * (CONFIG.hiddenSize / CONFIG.numHeads);
    console.log(`KV cache bytes (L=${CONFIG.numLayers}, B=${B}, Smax=${Smax}, KVH=${CONFIG.numKvHeads}, D=16): fp32 ${fp32}, bf16 ${bf16}`);
    expect(fp32).toBe(4 * elements);
    expect(bf16).toBe(2 * elements);
  });
});
