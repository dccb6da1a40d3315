// reference/attention.ts: float64 plain loops, the executable spec of attention / attentionBackward:
// causal GQA softmax(q·kᵀ·scale) v, query t of row b at key position S − T + t seeing keys
// kvStart[b] ≤ s ≤ S − T + t (head h reads kv head ⌊h / (H/KVH)⌋), out = 0 and lse = −inf for a
// query without keys. The backward is the exact gradient (P recomputed in float64, not taken from
// the kernel). Each output also comes with the magnitude of the terms it sums, the yardstick of
// float32 accuracy (test/util/close.ts).
export interface AttentionShape {
  B: number; T: number; H: number; KVH: number; D: number;
  /** keys in use (kvLength) */
  S: number;
  Smax: number;
  scale: number;
}

interface Row {
  keys: number[];   // valid key positions
  p: Float64Array;  // softmax over them
  lse: number;
  logitScale: number;
}

function row(q: ArrayLike<number>, k: ArrayLike<number>, kvStart: ArrayLike<number> | null, s: AttentionShape,
  b: number, t: number, h: number): Row {
  const G = s.H / s.KVH, kvh = Math.floor(h / G), position = s.S - s.T + t;
  const qOff = ((b * s.T + t) * s.H + h) * s.D;
  const keys: number[] = [];
  for (let key = kvStart ? kvStart[b] : 0; key <= position; key++) keys.push(key);
  const x = new Float64Array(keys.length);
  let max = -Infinity, logitScale = 0;
  keys.forEach((key, j) => {
    const kOff = ((b * s.Smax + key) * s.KVH + kvh) * s.D;
    let dot = 0, magnitude = 0;
    for (let d = 0; d < s.D; d++) {
      dot += q[qOff + d] * k[kOff + d];
      magnitude += Math.abs(q[qOff + d] * k[kOff + d]);
    }
    x[j] = s.scale * dot;
    max = Math.max(max, x[j]);
    logitScale = Math.max(logitScale, Math.abs(s.scale) * magnitude);
  });
  let sum = 0;
  for (let j = 0; j < x.length; j++) sum += Math.exp(x[j] - max);
  const p = x.map((xj) => Math.exp(xj - max) / sum);
  return { keys, p, lse: keys.length > 0 ? max + Math.log(sum) : -Infinity, logitScale };
}

export function attentionReference(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>,
  kvStart: ArrayLike<number> | null, s: AttentionShape) {
  const out = new Float64Array(s.B * s.T * s.H * s.D), outScale = new Float64Array(out.length);
  const lse = new Float64Array(s.B * s.H * s.T), lseScale = new Float64Array(lse.length);
  const G = s.H / s.KVH;
  for (let b = 0; b < s.B; b++)
    for (let t = 0; t < s.T; t++)
      for (let h = 0; h < s.H; h++) {
        const r = row(q, k, kvStart, s, b, t, h), kvh = Math.floor(h / G);
        const oOff = ((b * s.T + t) * s.H + h) * s.D;
        r.keys.forEach((key, j) => {
          const vOff = ((b * s.Smax + key) * s.KVH + kvh) * s.D;
          for (let d = 0; d < s.D; d++) {
            out[oOff + d] += r.p[j] * v[vOff + d];
            outScale[oOff + d] += r.p[j] * Math.abs(v[vOff + d]) * (1 + r.logitScale);
          }
        });
        lse[(b * s.H + h) * s.T + t] = r.lse;
        lseScale[(b * s.H + h) * s.T + t] = 1 + r.logitScale;
      }
  return { out, outScale, lse, lseScale };
}

/** dq, dk, dv of Σ dout·out (not accumulated), with term magnitudes. */
export function attentionBackwardReference(dout: ArrayLike<number>, q: ArrayLike<number>, k: ArrayLike<number>,
  v: ArrayLike<number>, kvStart: ArrayLike<number> | null, s: AttentionShape) {
  const dq = new Float64Array(q.length), dqScale = new Float64Array(q.length);
  const dk = new Float64Array(k.length), dkScale = new Float64Array(k.length);
  const dv = new Float64Array(v.length), dvScale = new Float64Array(v.length);
  const G = s.H / s.KVH;
  for (let b = 0; b < s.B; b++)
    for (let t = 0; t < s.T; t++)
      for (let h = 0; h < s.H; h++) {
        const r = row(q, k, kvStart, s, b, t, h), kvh = Math.floor(h / G);
        const qOff = ((b * s.T + t) * s.H + h) * s.D;
        const dp = new Float64Array(r.keys.length), dpScale = new Float64Array(r.keys.length);
        let di = 0, diScale = 0;
        r.keys.forEach((key, j) => {
          const vOff = ((b * s.Smax + key) * s.KVH + kvh) * s.D;
          for (let d = 0; d < s.D; d++) {
            dp[j] += dout[qOff + d] * v[vOff + d];
            dpScale[j] += Math.abs(dout[qOff + d] * v[vOff + d]);
          }
          di += r.p[j] * dp[j];
          diScale += r.p[j] * dpScale[j];
        });
        r.keys.forEach((key, j) => {
          const kvOff = ((b * s.Smax + key) * s.KVH + kvh) * s.D;
          const ds = r.p[j] * (dp[j] - di) * s.scale;
          const dsScale = r.p[j] * (dpScale[j] + diScale) * Math.abs(s.scale) * (1 + r.logitScale);
          for (let d = 0; d < s.D; d++) {
            dv[kvOff + d] += r.p[j] * dout[qOff + d];
            dvScale[kvOff + d] += r.p[j] * Math.abs(dout[qOff + d]) * (1 + r.logitScale);
            dk[kvOff + d] += ds * q[qOff + d];
            dkScale[kvOff + d] += dsScale * Math.abs(q[qOff + d]);
            dq[qOff + d] += ds * k[kvOff + d];
            dqScale[qOff + d] += dsScale * Math.abs(k[kvOff + d]);
          }
        });
      }
  return { dq, dqScale, dk, dkScale, dv, dvScale };
}
