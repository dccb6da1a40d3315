// cast.ts: reference for ops.cast, written from the IEEE 754 definition rather than bit tricks:
// a finite float32 x lies between the two bf16 values a = x truncated toward zero (its top 16 bits)
// and b, the next bf16 away from zero (the magnitude past the largest finite bf16 counts as 2^128,
// i.e. rounds to inf, as IEEE's unbounded-exponent rule says); the nearer one wins in float64
// (exact: both are float32 values), a tie goes to the one with an even last mantissa bit.
// A NaN keeps its sign and top payload bits and gets the quiet bit; inf stays inf.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function valueOf(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

/** float32 bits -> bfloat16 bits, round to nearest even. */
export function bf16BitsReference(bits: number): number {
  const x = bits >>> 0;
  const exponent = (x >>> 23) & 0xff, mantissa = x & 0x7fffff;
  if (exponent === 0xff) return mantissa !== 0 ? ((x >>> 16) | 0x40) : x >>> 16;  // NaN (quieted) or inf
  const a = x >>> 16;                        // truncated toward zero
  const b = a + 1;                           // next bf16 away from zero (may be inf's bits)
  const magnitude = Math.abs(valueOf(x));
  const aValue = Math.abs(valueOf(a << 16));
  const bValue = (b & 0x7fff) === 0x7f80 ? 2 ** 128 : Math.abs(valueOf(b << 16));
  const da = magnitude - aValue, db = bValue - magnitude;
  if (da < db) return a;
  if (db < da) return b;
  return (a & 1) === 0 ? a : b;              // tie: the even one
}

/** Every element of float32 bits -> bfloat16 bits. */
export function castToBf16Reference(bits: Uint32Array): Uint16Array {
  const out = new Uint16Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bf16BitsReference(bits[i]);
  return out;
}
