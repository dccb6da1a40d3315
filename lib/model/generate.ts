// generate.ts: batched sampling with a KV cache. Prompts are left-padded to a common length P;
// each row attends from its first real token (kvStart) and counts positions from it, so a row's
// tokens see exactly what they would see alone. Prefill runs the prompt block once; each decode
// step runs one token per row against the cache. Log-probs and entropies are those of
// softmax(logits / temperature) (the distribution the tokens were sampled from before top-k/top-p),
// i.e. what a teacher-forced forward of the same tokens gives.
// Under 'bf16-mixed' (GenerateContext.weightsBf16) decode splits precision as training does: every
// GEMM reads bf16 operands (the model's bf16 weight copy and bf16 casts of its inputs, fp32
// accumulation), the KV cache is bfloat16 and attention runs the bf16 FlashAttention kernels (fp32
// softmax statistics); the residual stream, norms, RoPE, logits and log-probs stay float32.
import * as ops from '../ops/index';
import { Tensor, type DType, type Device } from '../tensor';
import type { TinyLMConfig } from './config';
import type { Rollouts, SamplingOptions } from './policy';
import type { LayerActivations } from './activations';
import { ATTENTION_DTYPE, type MixedLayer } from './mixed_pass';
import { PassViews } from './pass_views';
import { ropeOptions } from './rope_tables';
import { transformerLayer } from './transformer';
import type { Weights } from './weights';

interface Workspace {
  x: Tensor; h: Tensor; rstd: Tensor; rstdqk: Tensor; q: Tensor; k: Tensor; v: Tensor; att: Tensor; lse: Tensor; gu: Tensor; s: Tensor;
  last: Tensor; hf: Tensor; rstdf: Tensor; logits: Tensor;
}

function workspace(config: TinyLMConfig, B: number, T: number, device: Device): { ws: Workspace; dispose: () => void } {
  const { hiddenSize: C, numHeads: H, numKvHeads: KVH, headDim: D, intermediateSize: F, vocabSize: V } = config;
  const N = B * T;
  const shapes: Record<keyof Workspace, number[]> = {
    x: [N, C], h: [N, C], rstd: [N], rstdqk: [N * H], q: [N, H * D], k: [N, KVH * D], v: [N, KVH * D], att: [N, H * D], lse: [B, H, T],
    gu: [N, 2 * F], s: [N, F], last: [B, C], hf: [B, C], rstdf: [B], logits: [B, V],
  };
  const total = Object.values(shapes).reduce((sum, s) => sum + s.reduce((a, b) => a * b, 1), 0);
  const arena = Tensor.zerosReleasable([total], { device });
  let offset = 0;
  const ws = {} as Workspace;
  for (const [name, shape] of Object.entries(shapes) as [keyof Workspace, number[]][]) {
    ws[name] = arena.view(offset, shape);
    offset += shape.reduce((a, b) => a * b, 1);
  }
  return { ws, dispose: () => { for (const t of Object.values(ws)) t.dispose(); arena.dispose(); } };
}

/**
 * The bf16 buffers of a 'bf16-mixed' step of B rows of T tokens (one set, shared by the layers as
 * the float32 workspace is): the casts of each GEMM's input and of q for bf16 attention, each on a
 * 16-byte boundary (the tensor-core kernels' fast path). `layers[l]` pairs them with layer l's bf16 weights.
 */
interface MixedWorkspace {
  layers: MixedLayer[];
  hf: Tensor;  // bf16 [B, C]  final norm of each row's last token, feeds lm_head
  lmHead: Tensor;
}

function mixedWorkspace(config: TinyLMConfig, wBf16: Weights, B: number, T: number, device: Device): { mws: MixedWorkspace; dispose: () => void } {
  const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: F } = config;
  const N = B * T;
  const bf16Attention = (ATTENTION_DTYPE as string) === 'bfloat16';
  const shapes = { h1: [N, C], att: [N, H * D], h2: [N, C], s: [N, F], q: [N, H * D], hf: [B, C] };
  const padded = (shape: number[]) => Math.ceil(shape.reduce((a, b) => a * b, 1) / 8) * 8;
  const arena = Tensor.zeros([Object.values(shapes).reduce((sum, shape) => sum + padded(shape), 0)], { device, dtype: 'bfloat16' });
  let offset = 0;
  const made: Tensor[] = [];
  const take = (shape: number[]) => {
    const t = arena.view(offset, shape);
    offset += padded(shape);
    made.push(t);
    return t;
  };
  const h1 = take(shapes.h1), att = take(shapes.att), h2 = take(shapes.h2), s = take(shapes.s), q = take(shapes.q), hf = take(shapes.hf);
  const layers = wBf16.layers.map((w): MixedLayer => ({ w, h1, att, h2, s, q: bf16Attention ? q : null, k: null, v: null }));
  return {
    mws: { layers, hf, lmHead: wBf16.lmHead },
    dispose: () => {
      for (const t of made) t.dispose();
      arena.dispose();
    },
  };
}

/** The dtype of generation's KV cache: bfloat16 when a 'bf16-mixed' model runs attention in bf16, else float32. */
export function kvCacheDtype(mixed: boolean): DType {
  return mixed && (ATTENTION_DTYPE as string) === 'bfloat16' ? 'bfloat16' : 'float32';
}

/**
 * One [B, Smax, KVH, D] key and value cache per layer, zeroed, freed by the caller (with dispose,
 * not at garbage collection): 4 bytes an element in float32, 2 in bfloat16.
 */
export function allocateKvCache(config: TinyLMConfig, B: number, Smax: number, device: Device, dtype: DType): { k: Tensor; v: Tensor }[] {
  const shape = [B, Smax, config.numKvHeads, config.headDim];
  return Array.from({ length: config.numLayers }, () => ({
    k: Tensor.zerosReleasable(shape, { device, dtype }),
    v: Tensor.zerosReleasable(shape, { device, dtype }),
  }));
}

/** Runs T new tokens per row at cache position `pos`; leaves logits of each row's last token in ws.logits. */
function step(
  config: TinyLMConfig, w: Weights, ws: Workspace, mws: MixedWorkspace | null, caches: { k: Tensor; v: Tensor }[],
  tokens: Tensor, positions: Tensor, kvStart: Tensor, B: number, T: number, pos: number, invFreq: Tensor | null,
): void {
  const { numKvHeads: KVH, rmsNormEps: eps, hiddenSize: C } = config;
  const input = { positions, kvStart, rope: ropeOptions(config, invFreq), B, T };
  // Nothing is kept for a backward: the layer's buffers alias each other, its input and output are ws.x.
  const views = new PassViews();
  const rstdk = ws.rstdqk.view(0, [B * T * KVH]);
  const buffers: LayerActivations = {
    x: ws.x, h1: ws.h, rstd1: ws.rstd, q: ws.q, k: ws.k, qRaw: ws.q, kRaw: ws.k, rstdq: ws.rstdqk, rstdk, v: ws.v,
    att: ws.att, lse: ws.lse, xm: ws.x, h2: ws.h, rstd2: ws.rstd, gu: ws.gu, s: ws.s,
  };
  try {
    ops.embedding({ out: ws.x, tokens, table: w.embed });
    for (let l = 0; l < config.numLayers; l++)
      transformerLayer(config, w.layers[l], buffers, ws.x, input, views, { ...caches[l], pos }, mws?.layers[l]);
  } finally {
    views.dispose();
    rstdk.dispose();
  }
  for (let b = 0; b < B; b++) {
    const into = ws.last.view(b * C, [C]), from = ws.x.view((b * T + T - 1) * C, [C]);
    into.copyFrom(from);
    into.dispose();
    from.dispose();
  }
  ops.rmsnorm({ out: ws.hf, rstd: ws.rstdf, inp: ws.last, weight: w.norm }, { eps });
  if (mws === null) {
    ops.matmul({ out: ws.logits, inp: ws.hf, weight: w.lmHead });
  } else {
    ops.cast({ out: mws.hf, inp: ws.hf });
    ops.matmul({ out: ws.logits, inp: mws.hf, weight: mws.lmHead });
  }
}

export interface GenerateContext {
  config: TinyLMConfig;
  /**
   * float32 [D/2] scaled RoPE inverse frequencies for a step whose positions reach length - 1, or
   * null for theta's. Under dynamic scaling they change as the sequence grows; keys already in the
   * cache keep the rotation they were stored with, as in transformers' generate.
   */
  invFreq: (length: number) => Tensor | null;
  weights: Weights;
  /** 'bf16-mixed': bf16 views of the model's (fresh) bf16 weight copy, same layout as `weights`; null in fp32. */
  weightsBf16: Weights | null;
  device: Device;
  padToken: number;
}

export async function generateTokens(ctx: GenerateContext, prompts: readonly Int32Array[], options: SamplingOptions): Promise<Rollouts> {
  const { config, weights, device } = ctx;
  const B = prompts.length;
  const P = Math.max(1, ...prompts.map((p) => p.length));
  const maxNew = options.maxNewTokens;
  const Smax = P + maxNew;
  const temperature = options.temperature ?? 1;
  const logprobTemperature = temperature > 0 ? temperature : 1;
  const stop = new Set(options.stopTokens ?? []);
  const seed = (options.seed ?? 0) >>> 0;

  // Left-padded prompt block and per-row starts.
  const promptTokens = new Int32Array(B * P).fill(ctx.padToken);
  const start = new Int32Array(B);
  const promptPositions = new Int32Array(B * P);
  for (let b = 0; b < B; b++) {
    start[b] = P - prompts[b].length;
    promptTokens.set(prompts[b], b * P + start[b]);
    for (let t = 0; t < P; t++) promptPositions[b * P + t] = Math.max(0, t - start[b]);
  }
  const kvStart = Tensor.from(start, [B], { device });
  // The cache and the workspaces are freed when generation ends (not at garbage collection).
  const mixed = ctx.weightsBf16;
  const caches = allocateKvCache(config, B, Smax, device, kvCacheDtype(mixed !== null));

  const tokens = new Int32Array(B * maxNew).fill(ctx.padToken);
  const mask = new Float32Array(B * maxNew);
  const logprobs = new Float32Array(B * maxNew);
  const entropy = new Float32Array(B * maxNew);
  const lengths = new Int32Array(B);
  const finished = new Array<boolean>(B).fill(false);

  // Log-probs and entropies stay on the device, one [B] row per step of [maxNew, B]: per decode step
  // the host reads only the sampled ids (and derives the finished flags). At the end the cpu lays
  // them out on the host; a device transposes them there (the tokens and mask, made from the ids on
  // the host, are cpu tensors either way).
  const stepLogprobs = Tensor.zeros([maxNew, B], { device }), stepEntropy = Tensor.zeros([maxNew, B], { device });
  let steps = 0;
  /** Off the cpu: the log-probs and entropies [B, T], made on the device from the step rows. */
  let onDevice: { logprobs: Tensor; entropy: Tensor } | null = null;
  const prefill = workspace(config, B, P, device);
  const decode = maxNew > 1 ? workspace(config, B, 1, device) : null;
  const prefillMixed = mixed === null ? null : mixedWorkspace(config, mixed, B, P, device);
  const decodeMixed = mixed === null || maxNew <= 1 ? null : mixedWorkspace(config, mixed, B, 1, device);
  try {
    const run = (ws: Workspace, mws: MixedWorkspace | null, ids: Int32Array, positions: Int32Array, T: number, pos: number) => {
      const idsTensor = Tensor.from(ids, [ids.length], { device }), positionsTensor = Tensor.from(positions, [positions.length], { device });
      try {
        step(config, weights, ws, mws, caches, idsTensor, positionsTensor, kvStart, B, T, pos, ctx.invFreq(pos + T));
      } finally {
        idsTensor.dispose();
        positionsTensor.dispose();
      }
    };
    run(prefill.ws, prefillMixed?.mws ?? null, promptTokens, promptPositions, P, 0);
    let logits = prefill.ws.logits;
    const stepTokens = new Int32Array(B), stepPositions = new Int32Array(B);
    for (let t = 0; t < maxNew; t++) {
      const sampled = ops.sample(logits, {
        temperature, topK: options.topK ?? 0, topP: options.topP ?? 1, seed, counter: t,
      });
      const chosen = sampled.toArray() as Int32Array;
      const scored = ops.tokenLogprobs(logits, sampled, { temperature: logprobTemperature, entropy: true });
      const lpRow = stepLogprobs.view(t * B, [B]), entRow = stepEntropy.view(t * B, [B]);
      lpRow.copyFrom(scored.logprobs);
      entRow.copyFrom(scored.entropy!);
      steps = t + 1;
      for (const x of [sampled, scored.logprobs, scored.logZ, scored.entropy!, lpRow, entRow]) x.dispose();
      let active = 0;
      for (let b = 0; b < B; b++) {
        if (finished[b]) {
          stepTokens[b] = ctx.padToken;
          continue;
        }
        tokens[b * maxNew + t] = chosen[b];
        mask[b * maxNew + t] = 1;
        lengths[b] = t + 1;
        stepTokens[b] = chosen[b];
        if (stop.has(chosen[b])) finished[b] = true;
        else active++;
      }
      if (active === 0 || t + 1 === maxNew) break;
      for (let b = 0; b < B; b++) stepPositions[b] = P + t - start[b];
      run(decode!.ws, decodeMixed?.mws ?? null, stepTokens, stepPositions, 1, P + t);
      logits = decode!.ws.logits;
      // Yield to the event loop between decode steps so a long generation does not starve it.
      if (t % 8 === 7) await new Promise((resolve) => setImmediate(resolve));
    }
    if (device === 'cpu') {
      const lp = stepLogprobs.toArray() as Float32Array, ent = stepEntropy.toArray() as Float32Array;
      for (let t = 0; t < steps; t++)
        for (let b = 0; b < B; b++)
          if (mask[b * maxNew + t] !== 0) {
            logprobs[b * maxNew + t] = lp[t * B + b];
            entropy[b * maxNew + t] = ent[t * B + b];
          }
    } else {
      // On a device they stay there: [maxNew, B] -> [B, T] by a gather (ops.embedding over the steps
      // with a zero row appended for padding), so the host never reads a per-token float.
      const T = Math.max(1, ...lengths), zero = maxNew * B;
      const ids = new Int32Array(B * T);
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) ids[b * T + t] = mask[b * maxNew + t] !== 0 ? t * B + b : zero;
      const idsTensor = Tensor.from(ids, [B * T], { device });
      const transpose = (steps: Tensor): Tensor => {
        const table = Tensor.zeros([zero + 1, 1], { device }), body = table.view(0, [zero]);
        body.copyFrom(steps);
        const out = ops.embedding({ out: Tensor.zeros([B * T, 1], { device }), tokens: idsTensor, table });
        const shaped = out.reshape([B, T]);
        for (const x of [table, body, out]) x.dispose();
        return shaped;
      };
      onDevice = { logprobs: transpose(stepLogprobs), entropy: transpose(stepEntropy) };
      idsTensor.dispose();
    }
  } finally {
    stepLogprobs.dispose();
    stepEntropy.dispose();
    prefill.dispose();
    decode?.dispose();
    prefillMixed?.dispose();
    decodeMixed?.dispose();
    for (const c of caches) {
      c.k.dispose();
      c.v.dispose();
    }
    kvStart.dispose();
  }
  const T = Math.max(1, ...lengths);
  const trim = <A extends Float32Array | Int32Array>(a: A, make: (n: number) => A): A => {
    const out = make(B * T);
    for (let b = 0; b < B; b++) out.set(a.subarray(b * maxNew, b * maxNew + T), b * T);
    return out;
  };
  return {
    tokens: Tensor.from(trim(tokens, (n) => new Int32Array(n)), [B, T]),
    mask: Tensor.from(trim(mask, (n) => new Float32Array(n)), [B, T]),
    logprobs: onDevice?.logprobs ?? Tensor.from(trim(logprobs, (n) => new Float32Array(n)), [B, T]),
    entropy: onDevice?.entropy ?? Tensor.from(trim(entropy, (n) => new Float32Array(n)), [B, T]),
    lengths,
    finished,
  };
}
