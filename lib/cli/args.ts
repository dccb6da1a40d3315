// args.ts: command-line parsing for every `steprl` command on node:util parseArgs (strict: an
// unknown flag or a missing value is one clear error), with typed numeric flags and a help text
// built from the same option table.
import { parseArgs } from 'node:util';

export class UsageError extends Error {
  constructor(message: string, readonly command: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Flag {
  type: 'string' | 'boolean' | 'integer' | 'number';
  description: string;
  default?: string | number | boolean;
  /** For strings: the accepted values. */
  choices?: readonly string[];
  min?: number;
  max?: number;
  short?: string;
}

export type Flags = Record<string, Flag>;
export type Parsed<F extends Flags> = { [K in keyof F]: F[K]['type'] extends 'boolean' ? boolean : F[K]['type'] extends 'string' ? string | undefined : number | undefined };

export function helpText(command: string, summary: string, flags: Flags): string {
  const lines = [`steprl ${command} — ${summary}`, '', 'Options:'];
  const labels = Object.entries(flags).map(([name, f]) => [`--${name}${f.type === 'boolean' ? '' : ` <${f.choices ? f.choices.join('|') : f.type}>`}`, f] as const);
  const width = Math.min(Math.max(...labels.map(([label]) => label.length)) + 2, 34);
  for (const [label, f] of labels) {
    const def = f.default !== undefined && f.type !== 'boolean' ? ` (default ${f.default})` : '';
    lines.push(label.length + 2 > width ? `  ${label}\n  ${''.padEnd(width)}${f.description}${def}` : `  ${label.padEnd(width)}${f.description}${def}`);
  }
  lines.push(`  ${'--help'.padEnd(width)}this text`);
  return lines.join('\n') + '\n';
}

export function parse<F extends Flags>(command: string, argv: readonly string[], flags: F): Parsed<F> & { help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, f] of Object.entries(flags)) options[name] = { type: f.type === 'boolean' ? 'boolean' : 'string', ...(f.short ? { short: f.short } : {}) };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }) as { values: Record<string, string | boolean | undefined> });
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify.*$/s, '').replace(/^Unknown option '(.*)'$/, 'unknown option $1');
    throw new UsageError(message, command);
  }
  const out: Record<string, unknown> = { help: Boolean(values.help) };
  for (const [name, f] of Object.entries(flags)) {
    const raw = values[name];
    if (f.type === 'boolean') {
      out[name] = raw === undefined ? Boolean(f.default) : raw;
      continue;
    }
    const text = raw === undefined ? (f.default === undefined ? undefined : String(f.default)) : String(raw);
    if (text === undefined) {
      out[name] = undefined;
      continue;
    }
    if (f.type === 'string') {
      if (f.choices && !f.choices.includes(text))
        throw new UsageError(`--${name} must be one of ${f.choices.join(', ')} (received ${JSON.stringify(text)})`, command);
      out[name] = text;
      continue;
    }
    const value = Number(text);
    const integer = f.type === 'integer';
    if (text.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) ||
        (f.min !== undefined && value < f.min) || (f.max !== undefined && value > f.max)) {
      const range = f.min !== undefined && f.max !== undefined ? ` between ${f.min} and ${f.max}` : f.min !== undefined ? ` >= ${f.min}` : '';
      throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'}${range} (received ${JSON.stringify(text)})`, command);
    }
    out[name] = value;
  }
  return out as Parsed<F> & { help: boolean };
}
