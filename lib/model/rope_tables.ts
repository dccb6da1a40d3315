// rope_tables.ts: the RoPE inverse-frequency tables a TinyLM's passes read (float32 [D/2] each).
// Plain RoPE needs none (the rope op derives theta^(-2i/D) itself); a static rope_scaling has one
// table for every length; dynamic (NTK) scaling rescales the base for sequences longer than
// maxPositions, so it keeps one table per such length (config.ts: ropeInverseFrequencies). The
// tables are the model's (made under untracked()), freed by dispose(); ropeOptions turns a table
// (or none) into the rope op's options.
import type * as ops from '../ops/index';
import { Tensor, type Device } from '../tensor';
import { untracked } from '../scope';
import { ropeInverseFrequencies, type TinyLMConfig } from './config';

export class RopeTables {
  readonly #config: TinyLMConfig;
  readonly #device: Device;
  /** float32 [D/2] RoPE inverse frequencies under rope_scaling; null for plain RoPE (and dynamic scaling). */
  readonly #invFreq: Tensor | null;
  /** Dynamic scaling's frequencies per sequence length beyond maxPositions (D/2 floats each). */
  readonly #dynamicInvFreq = new Map<number, Tensor>();

  constructor(config: TinyLMConfig, device: Device) {
    this.#config = config;
    this.#device = device;
    const invFreq = ropeInverseFrequencies(config);
    this.#invFreq = invFreq === null ? null : untracked(() => Tensor.from(invFreq, [invFreq.length], { device }));
  }

  /** The frequencies for a pass whose positions reach sequenceLength - 1. */
  for(sequenceLength: number): Tensor | null {
    if (this.#config.ropeScaling?.type !== 'dynamic' || sequenceLength <= this.#config.maxPositions) return this.#invFreq;
    let table = this.#dynamicInvFreq.get(sequenceLength);
    if (table === undefined) {
      const values = ropeInverseFrequencies(this.#config, sequenceLength)!;
      table = untracked(() => Tensor.from(values, [values.length], { device: this.#device }));
      this.#dynamicInvFreq.set(sequenceLength, table);
    }
    return table;
  }

  dispose(): void {
    this.#invFreq?.dispose();
    for (const table of this.#dynamicInvFreq.values()) table.dispose();
    this.#dynamicInvFreq.clear();
  }
}

/** The rope op's options for a config and a layout's inverse frequencies. */
export function ropeOptions(config: TinyLMConfig, invFreq: Tensor | null): ops.RopeOptions {
  return invFreq === null ? { headDim: config.headDim, theta: config.ropeTheta } : { headDim: config.headDim, invFreq };
}
