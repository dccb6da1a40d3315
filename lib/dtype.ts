// dtype.ts: dtypes and devices of tensors, the typed arrays that store them, bfloat16 conversion
// (round to nearest even). Argument checks live in validate.ts.

export type DType = 'float32' | 'bfloat16' | 'int32' | 'uint8';
export type Device = 'cpu' | 'cuda';
export type TypedArray = Float32Array | Uint16Array | Int32Array | Uint8Array;
export interface TensorOptions {
  dtype?: DType;
  device?: Device;
}

export const DTYPES: readonly DType[] = ['float32', 'bfloat16', 'int32', 'uint8'];
/** The typed array kind of a value ('Float32Array', ...), realm-independent, or null. */
export function typedArrayKind(value: unknown): string | null {
  return ArrayBuffer.isView(value) && !(value instanceof DataView) ? Object.prototype.toString.call(value).slice(8, -1) : null;
}

export function dtypeOfArray(value: unknown): DType | null {
  switch (typedArrayKind(value)) {
    case 'Float32Array': return 'float32';
    case 'Uint16Array': return 'bfloat16';
    case 'Int32Array': return 'int32';
    case 'Uint8Array': return 'uint8';
    default: return null;
  }
}

export function allocate(dtype: DType, length: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(length);
    case 'bfloat16': return new Uint16Array(length);
    case 'int32': return new Int32Array(length);
    case 'uint8': return new Uint8Array(length);
  }
}

/** float32 -> bfloat16 bits, round to nearest even; NaN stays NaN. */
export function toBFloat16(values: ArrayLike<number>): Uint16Array {
  const f32 = new Float32Array(values.length);
  f32.set(values as ArrayLike<number>);
  const bits = new Uint32Array(f32.buffer);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x007fffff) !== 0) out[i] = (x >>> 16) | 0x0040;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** bfloat16 bits -> float32 (exact). */
export function fromBFloat16(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

export const numelOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
