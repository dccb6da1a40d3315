// dynamic_sampling.ts: DAPO's dynamic sampling (ALGORITHMS.md §1.7; Yu et al. 2025, arXiv
// 2503.14476, §3.2 and Algorithm 1). A group whose rewards are all equal (all correct or all
// wrong) has zero group-relative advantage and gives no policy gradient, yet it would still count
// in the token-mean. So each step generates rounds of fresh prompts (over-sampling: a round may
// hold more prompts than the batch needs), drops the groups whose rewards are all equal and keeps
// generating until B groups with varied rewards are kept, at most `maxRounds` rounds (verl's
// `max_num_gen_batches`). The update sees the first B kept groups as one RolloutBatch. Should the
// cap stop it first, the step trains on the groups kept so far (fewer than B); if none was kept,
// on the first round's batch as it is (what the step would have been without dynamic sampling).
import { ArgumentError } from '../errors';
import type { LoadedSample } from '../text/dataset';
import { Tensor } from '../tensor';
import { attachedTensor, attachTensor, type RolloutBatch } from './batch';
import { gather } from './device_math';

export interface DynamicSamplingOptions {
  /** Most generation rounds in one step, the first included (verl's max_num_gen_batches). Default 10. */
  maxRounds?: number;
  /** Prompts per round as a multiple of the step's B (the DAPO recipe generates 3× its train batch). Default 1. */
  oversample?: number;
  /** What must vary within a group: the outcome 'reward' (the spec, default) or 'correct' (the paper's accuracy). */
  metric?: 'reward' | 'correct';
}

/** What a step's dynamic sampling did (reported in the step's metrics). */
export interface DynamicSamplingStats {
  /** Generation rounds run (1 = the first round was enough). */
  rounds: number;
  /** Prompts drawn over all rounds. */
  prompts: number;
  /** Groups dropped because their rewards were all equal. */
  droppedGroups: number;
  /**
   * Groups with varied rewards in the batch the update saw: B, or fewer when the cap stopped the
   * refill (0: none was found and the step trained on the first round's batch as it was).
   */
  keptGroups: number;
}

/** The options with their defaults, checked (typed errors name the field). */
export function dynamicSamplingSettings(value: boolean | DynamicSamplingOptions | undefined, where = 'dynamicSampling'): Required<DynamicSamplingOptions> | undefined {
  if (value === undefined || value === false) return undefined;
  if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value)))
    throw ArgumentError.expected(where, 'a boolean or { maxRounds?, oversample?, metric? }', value);
  const o: DynamicSamplingOptions = value === true ? {} : value;
  const maxRounds = o.maxRounds ?? 10, oversample = o.oversample ?? 1, metric = o.metric ?? 'reward';
  if (!Number.isInteger(maxRounds) || maxRounds < 1) throw ArgumentError.expected(`${where}.maxRounds`, 'an integer >= 1', o.maxRounds);
  if (!Number.isFinite(oversample) || oversample < 1) throw ArgumentError.expected(`${where}.oversample`, 'a finite number >= 1', o.oversample);
  if (metric !== 'reward' && metric !== 'correct') throw ArgumentError.expected(`${where}.metric`, '"reward" or "correct"', o.metric);
  return { maxRounds, oversample, metric };
}

/** Rows of each group of a batch, groups in order of their first row. */
export function groupRows(batch: RolloutBatch): number[][] {
  const groups = new Map<number, number[]>();
  batch.groupIds.forEach((g, r) => (groups.get(g) ?? groups.set(g, []).get(g)!).push(r));
  return [...groups.values()];
}

/** Whether a group's rewards (or verdicts) differ; a group of one row is kept, as verl does. */
export function groupVaries(batch: RolloutBatch, rows: readonly number[], metric: 'reward' | 'correct'): boolean {
  if (rows.length === 1) return true;
  const value = (r: number) => (metric === 'reward' ? batch.rewards[r] : Number(batch.verdicts[r].correct));
  return rows.some((r) => value(r) !== value(rows[0]));
}

/**
 * One RolloutBatch of the given groups, taken from one or more batches (each with its own prompt
 * block P and response length T): rows are re-laid out to the widest P and T (prompts left-padded,
 * responses right-padded with `padId`), and group g of the list gets group id g. Nothing the
 * pipeline attaches after the rollout (reference log-probs, values, steps) is carried.
 */
export function selectGroups(groups: readonly { batch: RolloutBatch; rows: readonly number[] }[], padId: number): RolloutBatch {
  const P = Math.max(...groups.map((g) => g.batch.P)), T = Math.max(...groups.map((g) => g.batch.T));
  const R = groups.reduce((n, g) => n + g.rows.length, 0);
  const out: RolloutBatch = {
    R, device: groups[0].batch.device, P, T, problems: [], groupIds: new Int32Array(R), sequences: new Int32Array(R * (P + T)).fill(padId),
    attentionStart: new Int32Array(R), tokens: new Int32Array(R * T).fill(padId), mask: new Float32Array(R * T),
    oldLogprobs: new Float32Array(R * T), entropy: new Float32Array(R * T), lengths: new Int32Array(R), texts: [], verdicts: [],
    rewards: new Float32Array(R),
  };
  // Batches whose per-token floats are tensors on a device (the Trainer's, off the cpu) are joined
  // there: one gather over their tensors laid end to end, so nothing per token is read back.
  const device = groups[0].batch.device ?? 'cpu';
  const onDevice = device !== 'cpu' && groups.every(({ batch: b }) => b.device === device && (['mask', 'oldLogprobs', 'entropy'] as const)
    .every((name) => attachedTensor(b, name, device) !== undefined));
  let row = 0;
  groups.forEach(({ batch: b, rows }, g) => {
    const shift = P - b.P, width = b.P + b.T;
    for (const r of rows) {
      const sequence = b.sequences.subarray(r * width, (r + 1) * width);
      out.sequences.set(sequence.subarray(0, b.P), row * (P + T) + shift);
      out.sequences.set(sequence.subarray(b.P), row * (P + T) + P);
      out.attentionStart[row] = b.attentionStart[r] + shift;
      const span = (a: ArrayLike<number> & { subarray(s: number, e: number): ArrayLike<number> }) => a.subarray(r * b.T, (r + 1) * b.T);
      out.tokens.set(span(b.tokens), row * T);
      if (!onDevice) {
        out.mask.set(span(b.mask), row * T);
        out.oldLogprobs.set(span(b.oldLogprobs), row * T);
        out.entropy.set(span(b.entropy), row * T);
      }
      out.groupIds[row] = g;
      out.lengths[row] = b.lengths[r];
      out.rewards[row] = b.rewards[r];
      out.problems.push(b.problems[r]);
      out.texts.push(b.texts[r]);
      out.verdicts.push(b.verdicts[r]);
      row++;
    }
  });
  if (onDevice) {
    const sources = [...new Set(groups.map((g) => g.batch))];
    const offsets = new Map<RolloutBatch, number>();
    let total = 0;
    for (const b of sources) {
      offsets.set(b, total);
      total += b.R * b.T;
    }
    const ids = new Int32Array(R * T).fill(total);  // `total`: the zero row (padding)
    let at = 0;
    for (const { batch: b, rows } of groups)
      for (const r of rows) {
        for (let t = 0; t < b.lengths[r]; t++) ids[at * T + t] = offsets.get(b)! + r * b.T + t;
        at++;
      }
    for (const name of ['oldLogprobs', 'entropy'] as const) {
      const joined = Tensor.zeros([total], { device });
      for (const b of sources) {
        const into = joined.view(offsets.get(b)!, [b.R * b.T]), from = attachedTensor(b, name, device)!.reshape([b.R * b.T]);
        into.copyFrom(from);
        into.dispose();
        from.dispose();
      }
      const picked = gather(joined, ids);
      attachTensor(out, name, picked.reshape([R, T]));
      for (const t of [joined, picked]) t.dispose();
    }
    // The mask is 1 exactly on each row's first lengths[r] tokens (batch.ts): made from the lengths.
    out.lengths.forEach((n, r) => out.mask.fill(1, r * T, r * T + n));
    attachTensor(out, 'mask', Tensor.from(out.mask, [R, T], { device }));
  }
  return out;
}

/**
 * Rounds of `collect(draw(n), round)` until B groups with varied rewards are kept or `maxRounds`
 * rounds ran; `draw(n)` hands out the next n prompts of the data stream.
 */
export async function collectDynamic(
  B: number, settings: Required<DynamicSamplingOptions>, padId: number,
  draw: (count: number) => LoadedSample[], collect: (problems: LoadedSample[], round: number) => Promise<RolloutBatch>,
): Promise<{ batch: RolloutBatch; stats: DynamicSamplingStats }> {
  const perRound = Math.max(1, Math.ceil(B * settings.oversample));
  const kept: { batch: RolloutBatch; rows: number[] }[] = [];
  const stats: DynamicSamplingStats = { rounds: 0, prompts: 0, droppedGroups: 0, keptGroups: 0 };
  let first: RolloutBatch | null = null;
  while (kept.length < B && stats.rounds < settings.maxRounds) {
    const batch = await collect(draw(perRound), stats.rounds);
    first ??= batch;
    stats.rounds++;
    stats.prompts += perRound;
    for (const rows of groupRows(batch)) {
      if (groupVaries(batch, rows, settings.metric)) kept.push({ batch, rows });
      else stats.droppedGroups++;
    }
  }
  if (kept.length === 0) return { batch: first!, stats };
  const used = kept.slice(0, B);
  stats.keptGroups = used.length;
  return { batch: selectGroups(used, padId), stats };
}
