// host_reads.ts: an audit of device -> host reads (toArray(), toFloat32(), to('cpu') of a cuda
// tensor), for tests that check what a training step still reads back from the device: each read's
// bytes, shape and the first call site outside tensor.ts. Off by default (a null check per read).
/** One device -> host read that countHostReads() saw: its bytes, the tensor's shape and who asked. */
export interface HostRead {
  bytes: number;
  shape: readonly number[];
  /** The first stack frame outside tensor.ts and host_reads.ts (file:line), to tell the reads apart. */
  site: string;
}

/** The reads being counted, or null (the default: counting costs one null check per read). */
let hostReads: HostRead[] | null = null;

/** Tensor's device -> host copies report here; one null check when nothing is counting. */
export function noteHostRead(bytes: number, shape: readonly number[]): void {
  if (hostReads !== null) countHostRead(bytes, shape);
}

function countHostRead(bytes: number, shape: readonly number[]): void {
  const frames = (new Error().stack ?? '').split('\n').slice(1);
  const outside = frames.find((f) => !/[\\/](tensor|host_reads)\.[tj]s:/.test(f) && /\.[tj]s:\d+/.test(f)) ?? '';
  const site = /([^\\/( ]+\.[tj]s:\d+)/.exec(outside)?.[1] ?? 'unknown';
  hostReads!.push({ bytes, shape: [...shape], site });
}

/**
 * Counts the reads of device memory to the host (toArray(), toFloat32(), to('cpu') of a cuda tensor)
 * made while `fn` runs, for tests that audit what a step reads back; cpu tensors are not counted.
 * Returns fn's result and the reads in order. Not reentrant: a nested call throws.
 */
export async function countHostReads<T>(fn: () => Promise<T> | T): Promise<{ result: T; reads: HostRead[] }> {
  if (hostReads !== null) throw new Error('steprl: countHostReads() is already counting');
  const reads: HostRead[] = [];
  hostReads = reads;
  try {
    return { result: await fn(), reads };
  } finally {
    hostReads = null;
  }
}
