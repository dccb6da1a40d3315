// index.ts: the public API of steprl.
export { Tensor, toBFloat16, fromBFloat16 } from './tensor';
export type { DType, Device, TensorOptions, TypedArray } from './tensor';
export * as ops from './ops/index';
export * from './errors';
export { backendInfo, setNumThreads, setSimdLevel, probeReadBandwidth, hostMemory, trimHostCache } from './runtime';
export type { BackendInfo } from './runtime';
export { useBinding } from './binding';
