// weight_values.ts: the float32 parameter vector [P] a TinyLM is built from, laid out by
// parameterSpecs(config) (params.ts): freshly initialized (GPT-2 style N(0, 0.02), seeded), read
// from a Hugging Face folder (checkpoint.ts checks every header before anything is allocated), or
// copied by parameter name from another model. A value head the source lacks is initialized with
// seed 1, so adding one to a checkpoint or a clone is reproducible.
import { FormatError } from '../errors';
import { fillWeights, planWeights, readConfig } from './checkpoint';
import type { TinyLMConfig } from './config';
import { initializeParameters, parameterSpecs, type ParamSpec } from './params';

const isValueHead = (spec: ParamSpec): boolean => spec.name.startsWith('v_head.');

/** A freshly initialized model's parameters, reproducible for a seed. */
export function initialValues(config: TinyLMConfig, seed: number): Float32Array {
  const { specs, total } = parameterSpecs(config);
  const values = new Float32Array(total);
  initializeParameters(values, specs, config.numLayers, seed);
  return values;
}

/**
 * The config and parameters of a Hugging Face folder; `valueHead` (when given) overrides the
 * stored config's. Throws a FormatError when the config implies more floats than can be allocated.
 */
export function checkpointValues(dir: string, valueHead: boolean | undefined): { config: TinyLMConfig; values: Float32Array } {
  const stored = readConfig(dir);
  const config = valueHead === undefined ? stored : { ...stored, valueHead };
  const { specs, total } = parameterSpecs(config);
  // A new value head on a checkpoint without one: read the rest, initialize the head.
  const newHead = config.valueHead && !stored.valueHead;
  const plan = planWeights(dir, newHead ? specs.filter((s) => !isValueHead(s)) : specs);
  let values: Float32Array;
  try {
    values = new Float32Array(total);
  } catch (error) {
    throw new FormatError(plan.folder, `cannot allocate the ${total} float32 parameters the config implies (${(error as Error).message})`);
  }
  fillWeights(plan, values);
  if (newHead) initializeParameters(values, specs.filter(isValueHead), config.numLayers, 1);
  return { config, values };
}

/** `config`'s parameters copied by name from another model's (`sourceSpecs` lays out `source`). */
export function copiedValues(config: TinyLMConfig, sourceConfig: TinyLMConfig, sourceSpecs: readonly ParamSpec[], source: Float32Array): Float32Array {
  const { specs, total } = parameterSpecs(config);
  const values = new Float32Array(total);
  for (const spec of specs) {
    const from = sourceSpecs.find((s) => s.name === spec.name);
    if (from) values.set(source.subarray(from.offset, from.offset + from.numel), spec.offset);
  }
  if (config.valueHead && !sourceConfig.valueHead) initializeParameters(values, specs.filter(isValueHead), config.numLayers, 1);
  return values;
}
