// errors.ts: the typed errors every public entry point throws.
//
// Messages name the argument, what was expected and what was received, e.g.
// "Expected an integer between 1 and 65536 for groupSize but received 0 of type number".
// Native errors carry a `code`; fromNative() maps them onto these classes so callers can rely on
// `instanceof` whichever layer caught the problem.

export class SteprlError extends Error {
  readonly code: string;
  constructor(message: string, code = 'STEPRL_ERROR') {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A bad argument: wrong type, value out of range, unknown option. */
export class ArgumentError extends SteprlError {
  readonly argument: string;
  constructor(argument: string, message: string, code = 'STEPRL_ARGUMENT') {
    super(message, code);
    this.argument = argument;
  }
  static expected(argument: string, expected: string, received: unknown): ArgumentError {
    return new ArgumentError(argument, `Expected ${expected} for ${argument} but received ${describe(received)}`);
  }
}

/** Tensor shapes that do not fit together. */
export class ShapeError extends ArgumentError {
  constructor(argument: string, message: string) {
    super(argument, message, 'STEPRL_SHAPE');
  }
}

/** A tensor of the wrong dtype. */
export class DTypeError extends ArgumentError {
  constructor(argument: string, message: string) {
    super(argument, message, 'STEPRL_DTYPE');
  }
}

/** Tensors on different devices, or a device this build or machine does not have. */
export class DeviceError extends SteprlError {
  constructor(message: string) {
    super(message, 'STEPRL_DEVICE');
  }
}

/** Use of a tensor after dispose(). */
export class DisposedError extends SteprlError {
  constructor(argument: string) {
    super(`Expected a live tensor for ${argument} but received a disposed tensor`, 'STEPRL_DISPOSED');
  }
}

/** The native addon could not be loaded. */
export class BackendError extends SteprlError {
  constructor(message: string) {
    super(message, 'STEPRL_BACKEND');
  }
}

/** A file that is not what it claims to be: a checkpoint, a task file, a config. */
export class FormatError extends SteprlError {
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`, 'STEPRL_FORMAT');
    this.file = file;
  }
}

/** Anything else the native layer reported (out of memory, internal failures). */
export class NativeError extends SteprlError {}

/** A short description of a received value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return `${String(value)} of type ${typeof value}`;
  if (typeof value === 'string') return `${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)} of type string`;
  if (typeof value === 'function') return 'a function';
  if (ArrayBuffer.isView(value)) {
    const kind = Object.prototype.toString.call(value).slice(8, -1);
    return 'length' in value ? `${kind}(${(value as unknown as { length: number }).length})` : kind;
  }
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  const described = (value as { describe?: () => string }).describe;
  if (typeof described === 'function') return described.call(value);
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}

/** Converts an error thrown by the addon into the matching typed error. */
export function fromNative(error: unknown): Error {
  if (!(error instanceof Error) && !(typeof error === 'object' && error !== null && 'message' in error))
    return new NativeError(`steprl: native failure: ${String(error)}`);
  const e = error as Error & { code?: string; argument?: string };
  switch (e.code) {
    case 'STEPRL_ARGUMENT':
      return new ArgumentError(e.argument ?? 'argument', e.message);
    case 'STEPRL_DEVICE':
      return new DeviceError(e.message);
    case 'STEPRL_OUT_OF_MEMORY':
      return new NativeError(e.message, 'STEPRL_OUT_OF_MEMORY');
    case 'STEPRL_NATIVE':
      return new NativeError(e.message, 'STEPRL_NATIVE');
    default:
      return e instanceof SteprlError ? e : new NativeError(e.message, e.code ?? 'STEPRL_NATIVE');
  }
}
