// pretrained.ts: a Hugging Face model directory in one call. loadPretrained reads config.json and the
// weights (model.safetensors or a sharded index, through TinyLM.load) and the tokenizer files
// beside them (hf_tokenizer.ts); savePretrained writes a directory transformers loads back with
// AutoModelForCausalLM / AutoTokenizer: config.json, the weights, and the tokenizer's files copied.
import { checkOptionsObject } from '../validate';
import { ArgumentError, FormatError } from '../errors';
import { checkDevice, type Device } from '../tensor';
import { loadTokenizer, type HuggingFaceTokenizer } from './hf_tokenizer';
import { TinyLM } from './tinylm';
import type { Tokenizer } from './tokenizer';

export interface LoadPretrainedOptions {
  /** Where the model's tensors live. Default 'cpu'. */
  device?: Device;
  /**
   * The dtype of the parameters in memory. TinyLM trains in float32, so 'float32' (the default) is
   * the only value; bf16 and f16 checkpoints are widened on load.
   */
  dtype?: 'float32';
  /** Add a scalar value head (PPO, PSPO with a critic); initialized when the checkpoint has none. */
  valueHead?: boolean;
  /** A different directory to read the tokenizer from. Default: `dir`. */
  tokenizer?: string;
}

export interface Pretrained {
  model: TinyLM;
  tokenizer: HuggingFaceTokenizer;
}

/** Loads TinyLM and its Hugging Face tokenizer from a model directory. */
export async function loadPretrained(dir: string, options: LoadPretrainedOptions = {}): Promise<Pretrained> {
  if (typeof dir !== 'string' || dir.length === 0) throw ArgumentError.expected('dir', 'a model directory path', dir);
  checkOptionsObject('options', options, ['device', 'dtype', 'valueHead', 'tokenizer']);
  const device = options.device ?? 'cpu';
  checkDevice('options.device', device);
  if (options.dtype !== undefined && options.dtype !== 'float32')
    throw ArgumentError.expected('options.dtype', "'float32' (TinyLM keeps float32 parameters; bf16 checkpoints are widened on load)", options.dtype);
  if (options.tokenizer !== undefined && (typeof options.tokenizer !== 'string' || options.tokenizer.length === 0))
    throw ArgumentError.expected('options.tokenizer', 'a tokenizer directory path', options.tokenizer);
  // The tokenizer first: it is the cheaper of the two to find missing.
  const tokenizer = loadTokenizer(options.tokenizer ?? dir);
  const model = TinyLM.load(dir, { device, ...(options.valueHead === undefined ? {} : { valueHead: options.valueHead }) });
  try {
    checkTokenizerFits(tokenizer, model.vocabSize, options.tokenizer ?? dir);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return { model, tokenizer };
}

/** A FormatError (naming `where`) unless every id the tokenizer can produce is below `vocabSize`. */
export function checkTokenizerFits(tokenizer: Tokenizer, vocabSize: number, where: string): void {
  const ids = [tokenizer.eosId, tokenizer.padId, ...(tokenizer.stopIds ?? []), ...(tokenizer.bosId === null ? [] : [tokenizer.bosId])];
  if (tokenizer.vocabSize > vocabSize || ids.some((id) => id >= vocabSize))
    throw new FormatError(where, `the tokenizer's ${tokenizer.vocabSize} ids (special ids up to ${Math.max(...ids)}) do not fit the model's vocab_size ${vocabSize}`);
}

export interface SavePretrainedOptions {
  /** Storage dtype of the weights. Default 'float32'. */
  dtype?: 'float32' | 'bfloat16';
}

/**
 * Writes `model` and `tokenizer` as one Hugging Face model directory, atomically (a crash leaves
 * the previous directory): config.json, model.safetensors and the tokenizer's files.
 */
export function savePretrained(dir: string, model: TinyLM, tokenizer: HuggingFaceTokenizer, options: SavePretrainedOptions = {}): void {
  if (typeof dir !== 'string' || dir.length === 0) throw ArgumentError.expected('dir', 'a directory path', dir);
  if (!(model instanceof TinyLM)) throw ArgumentError.expected('model', 'a TinyLM', model);
  if (tokenizer === null || typeof tokenizer !== 'object' || typeof (tokenizer as { files?: unknown }).files !== 'function')
    throw ArgumentError.expected('tokenizer', 'a HuggingFaceTokenizer (loadTokenizer / loadPretrained)', tokenizer);
  checkOptionsObject('options', options, ['dtype']);
  const files = tokenizer.files();
  for (const name of ['config.json', 'model.safetensors', 'model.safetensors.index.json'])
    if (name in files) throw new ArgumentError('tokenizer', `the tokenizer's files include ${name}, which the model writes`);
  model.save(dir, { dtype: options.dtype ?? 'float32', extraFiles: files });
}
