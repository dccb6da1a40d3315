// index.ts: the public API of steprl.
export { Tensor, toBFloat16, fromBFloat16 } from './tensor';
export type { DType, Device, TensorOptions, TypedArray } from './tensor';
export * as ops from './ops/index';
export * from './errors';
export {
  backendInfo, setNumThreads, setSimdLevel, probeReadBandwidth, hostMemory, trimHostCache, synchronize, cudaInfo, trimDeviceCache,
} from './runtime';
export type { BackendInfo } from './runtime';
export type { NativeDeviceInfo as CudaInfo } from './native';
export { useBinding } from './binding';
