// entropy_segments.ts: PRPO's segmentation of responses at entropy spikes (ALGORITHMS.md §5.2).
// Per row with n valid tokens: n < K + 1 → one segment; otherwise the K highest-entropy tokens
// (ties → lower index) are anchors, sorted; a cut is made at each anchor at least minGap after the
// previous cut (the first measured from 0); each token's id counts the cuts at or before it.
// compat replicates the reference's anchor filter (see native/cpu/entropy_segments.h).
import { binding } from '../binding';
import { Tensor } from '../tensor';
import { callNative } from '../native_call';
import { checkBoolean, checkFinite, checkMask, checkMaskOnHost, checkNumber, checkOptionsObject, checkRowsTokens, commonDevice } from '../validate';

export interface EntropySegmentsOptions {
  /** K: the number of entropy anchors, an integer in [1, 256]. Default 5. */
  maxBranches?: number;
  /** The minimum distance from one cut to the next (and from 0 to the first), an integer ≥ 1. Default 10. */
  minGap?: number;
  /** Replicate the reference code's anchor filter quirk. Default false. */
  compat?: boolean;
}

/**
 * Segment id per token, int32 [R,T]: 0, 1, … along each row, −1 where the mask is 0.
 * `entropy` is float32 [R,T] (finite on valid tokens), `mask` float32 or uint8 [R,T] of 0/1.
 */
export function entropySegments(entropy: Tensor, mask: Tensor, options: EntropySegmentsOptions = {}): Tensor {
  checkOptionsObject('options', options, ['maxBranches', 'minGap', 'compat']);
  const [R, T] = checkRowsTokens('entropy', entropy);
  const m = checkMask(mask, [R, T]);
  const o = options ?? {};
  const maxBranches = checkNumber('options.maxBranches', o.maxBranches, 5, { integer: true, min: 1, max: 256 });
  const minGap = checkNumber('options.minGap', o.minGap, 10, { integer: true, min: 1 });
  const compat = checkBoolean('options.compat', o.compat, false);
  commonDevice({ entropy, mask: m });
  checkMaskOnHost(m);
  checkFinite('entropy', entropy, m);
  const out = callNative(() => binding().entropySegments(entropy._storage('entropy'), m._storage('mask'), R, T,
    maxBranches, Math.min(minGap, 2 ** 31 - 1), compat));
  return Tensor._wrap(out, [R, T], 'int32');
}
