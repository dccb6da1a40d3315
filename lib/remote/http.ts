// http.ts: JSON over HTTP for the remote engines, on Node's own fetch: a per-request timeout,
// retries with exponential backoff on what may pass (connection errors, timeouts, 429 and 5xx),
// a limit on requests in flight, and errors that name the URL and the status.
import { ArgumentError, SteprlError } from '../errors';

/** A remote engine failed: `url`, and `status` when the server answered. */
export class RemoteError extends SteprlError {
  constructor(message: string, readonly url: string, readonly status?: number) {
    super(message, 'STEPRL_REMOTE');
  }
}

export interface HttpOptions {
  /** Milliseconds one attempt may take (connect to last byte). Default 60000. */
  timeoutMs?: number;
  /** Further attempts after a failure that may pass. Default 3. */
  retries?: number;
  /** Wait before the first retry; doubled each time, up to maxBackoffMs. Default 250. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Requests in flight at once. Default 8. */
  concurrency?: number;
  /** Extra headers (e.g. { authorization: 'Bearer ...' }). */
  headers?: Record<string, string>;
}

const checkCount = (name: string, value: number | undefined, fallback: number, min: number): number => {
  const v = value ?? fallback;
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= min)) throw ArgumentError.expected(name, `a number >= ${min}`, value);
  return v;
};

/** Counts requests in flight; `run` waits for a free slot. */
class Limiter {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#active++;
    try {
      return await task();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}

export class HttpClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  readonly headers: Record<string, string>;
  readonly #limiter: Limiter;

  constructor(baseUrl: string, options: HttpOptions = {}) {
    let parsed: URL;
    try {
      parsed = new URL(baseUrl);
    } catch {
      throw ArgumentError.expected('url', 'an http(s) URL', baseUrl);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw ArgumentError.expected('url', 'an http(s) URL', baseUrl);
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = checkCount('timeoutMs', options.timeoutMs, 60000, 1);
    this.retries = Math.floor(checkCount('retries', options.retries, 3, 0));
    this.backoffMs = checkCount('backoffMs', options.backoffMs, 250, 0);
    this.maxBackoffMs = checkCount('maxBackoffMs', options.maxBackoffMs, 5000, 0);
    this.headers = { ...(options.headers ?? {}) };
    this.#limiter = new Limiter(Math.floor(checkCount('concurrency', options.concurrency, 8, 1)));
  }

  /** The URL of `path` under the base URL (a path starting with "/" is appended to it). */
  url(path: string): string {
    return path === '' ? this.baseUrl : `${this.baseUrl}/${path.replace(/^\/+/, '')}`;
  }

  /** POSTs `body` as JSON and returns the parsed JSON answer, retrying what may pass. */
  async postJson(path: string, body: unknown): Promise<unknown> {
    const url = this.url(path);
    return this.#limiter.run(async () => {
      let last: RemoteError | null = null;
      for (let attempt = 0; attempt <= this.retries; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(this.backoffMs * 2 ** (attempt - 1), this.maxBackoffMs)));
        const result = await this.#attempt(url, body);
        if (!(result instanceof RemoteError)) return result;
        last = result;
        if (!(result as RemoteError & { retryable?: boolean }).retryable) break;
      }
      const tries = this.retries + 1;
      throw new RemoteError(`${last!.message}${(last as RemoteError & { retryable?: boolean }).retryable ? ` (after ${tries} attempt${tries > 1 ? 's' : ''})` : ''}`, url, last!.status);
    });
  }

  async #attempt(url: string, body: unknown): Promise<unknown | RemoteError> {
    const fail = (message: string, retryable: boolean, status?: number) => Object.assign(new RemoteError(message, url, status), { retryable });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      let response: Response;
      try {
        response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...this.headers }, body: JSON.stringify(body), signal: controller.signal });
      } catch (error) {
        if (controller.signal.aborted) return fail(`POST ${url}: no answer within ${this.timeoutMs} ms`, true);
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        return fail(`POST ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, true);
      }
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        if (controller.signal.aborted) return fail(`POST ${url}: no complete answer within ${this.timeoutMs} ms`, true);
        return fail(`POST ${url}: the connection closed mid-answer (${(error as Error).message})`, true);
      }
      if (!response.ok) {
        const snippet = text.length > 200 ? `${text.slice(0, 200)}…` : text;
        return fail(`POST ${url}: HTTP ${response.status}${snippet ? ` ${snippet}` : ''}`, response.status === 429 || response.status >= 500, response.status);
      }
      try {
        return JSON.parse(text);
      } catch {
        return fail(`POST ${url}: the answer is not JSON (${JSON.stringify(text.slice(0, 80))})`, false, response.status);
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
