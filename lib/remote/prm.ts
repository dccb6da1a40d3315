// prm.ts: a process reward model served over HTTP. Concurrent scoreSteps calls are gathered
// into batches of up to `batchSize` texts per request. Request and answer shapes:
//   'pooling'  vLLM POST /pooling {model, input: [text]} -> {data: [{data: [[p_bad, p_good] per step]}]}
//              (a step-pooling PRM such as Qwen2.5-Math-PRM: one row per step separator)
//   'classify' vLLM POST /classify {model, input: [prefix]} -> {data: [{probs: [..]}]}: a sequence
//              classifier scores every prefix that ends at a step
//   'tgi'      TEI/TGI-style POST /predict {inputs: [prefix]} -> [[{label, score}]] per prefix
//   custom     { request(items) -> {path, body}, parse(json, items) -> number[][] }
import { ArgumentError, describe } from '../errors';
import type { ProcessRewardModel } from '../reward/prm';
import type { Sample } from '../text/dataset';
import { HttpClient, RemoteError, type HttpOptions } from './http';

export interface PrmItem {
  prompt: string;
  steps: readonly string[];
  sample?: Sample;
}

export interface CustomPrmFormat {
  request(items: readonly PrmItem[]): { path: string; body: unknown };
  /** One score per step of each item. */
  parse(json: unknown, items: readonly PrmItem[]): number[][];
}

export interface RemotePRMOptions extends HttpOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8000 (paths are added per format). */
  url: string;
  format?: 'pooling' | 'classify' | 'tgi' | CustomPrmFormat;
  /** The served model's name (the "model" field); omitted when unset. */
  model?: string;
  /** Text after each step (Qwen2.5-Math-PRM: "<extra_0>"). Default "<extra_0>". */
  stepSeparator?: string;
  /** The text the server sees for a prompt and the steps so far; default `${prompt}\n` + each step trimmed of trailing newlines + the separator. */
  render?: (prompt: string, steps: readonly string[], sample?: Sample) => string;
  /** Texts per request. Default 16. */
  batchSize?: number;
  /** Which class is "step correct": an index into the probabilities ('pooling', 'classify'), or a label ('tgi'). Default 1 / "LABEL_1". */
  positive?: number | string;
}

export class RemotePRM implements ProcessRewardModel {
  readonly http: HttpClient;
  readonly format: 'pooling' | 'classify' | 'tgi' | CustomPrmFormat;
  readonly batchSize: number;
  readonly #options: RemotePRMOptions;
  #queue: { item: PrmItem; resolve: (s: number[]) => void; reject: (e: unknown) => void }[] = [];
  #scheduled = false;

  constructor(options: RemotePRMOptions) {
    if (typeof options !== 'object' || options === null) throw ArgumentError.expected('options', 'an object { url, ... }', options);
    this.http = new HttpClient(options.url, options);
    this.format = options.format ?? 'pooling';
    if (typeof this.format === 'object' ? typeof this.format.request !== 'function' || typeof this.format.parse !== 'function' : !['pooling', 'classify', 'tgi'].includes(this.format))
      throw ArgumentError.expected('format', '"pooling", "classify", "tgi" or { request, parse }', options.format);
    this.batchSize = options.batchSize ?? 16;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw ArgumentError.expected('batchSize', 'an integer >= 1', options.batchSize);
    this.#options = options;
  }

  render(prompt: string, steps: readonly string[], sample?: Sample): string {
    if (this.#options.render) return this.#options.render(prompt, steps, sample);
    const sep = this.#options.stepSeparator ?? '<extra_0>';
    return `${prompt}\n${steps.map((s) => s.replace(/\n+$/, '') + sep).join('')}`;
  }

  scoreSteps(prompt: string, steps: readonly string[], sample?: Sample): Promise<number[]> {
    if (steps.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#queue.push({ item: { prompt, steps, sample }, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // Calls made in the same turn of the event loop share requests.
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    // Per-prefix formats send one text per step: batch by texts, not by items.
    const perStep = this.format === 'classify' || this.format === 'tgi';
    let batch: typeof queue = [], size = 0;
    const send = () => {
      const b = batch;
      batch = [];
      size = 0;
      this.#request(b.map((q) => q.item)).then((scores) => b.forEach((q, i) => q.resolve(scores[i])), (error) => b.forEach((q) => q.reject(error)));
    };
    for (const q of queue) {
      const n = perStep ? q.item.steps.length : 1;
      if (size > 0 && size + n > this.batchSize) send();
      batch.push(q);
      size += n;
    }
    if (batch.length) send();
  }

  async #request(items: readonly PrmItem[]): Promise<number[][]> {
    const model = this.#options.model !== undefined ? { model: this.#options.model } : {};
    const positive = this.#options.positive;
    if (typeof this.format === 'object') {
      const { path, body } = this.format.request(items);
      return this.#checked(this.http.url(path), this.format.parse(await this.http.postJson(path, body), items), items);
    }
    if (this.format === 'pooling') {
      const url = this.http.url('/pooling');
      const json = await this.http.postJson('/pooling', { ...model, input: items.map((it) => this.render(it.prompt, it.steps, it.sample)) }) as { data?: { data?: unknown }[] };
      if (!Array.isArray(json?.data) || json.data.length !== items.length) throw new RemoteError(`POST ${url}: expected {"data": [${items.length} results]} but received ${describe(json)}`, url);
      const index = typeof positive === 'number' ? positive : 1;
      return this.#checked(url, json.data.map((d) => {
        const rows = d?.data;
        if (!Array.isArray(rows)) return [];
        return rows.map((row: unknown) => (Array.isArray(row) ? Number(row[index]) : Number(row)));
      }), items);
    }
    // Per prefix: prefix k holds steps 0..k.
    const prefixes = items.flatMap((it) => it.steps.map((_, k) => this.render(it.prompt, it.steps.slice(0, k + 1), it.sample)));
    const flat: number[] = [];
    if (this.format === 'classify') {
      const url = this.http.url('/classify');
      const json = await this.http.postJson('/classify', { ...model, input: prefixes }) as { data?: { probs?: number[] }[] };
      if (!Array.isArray(json?.data) || json.data.length !== prefixes.length) throw new RemoteError(`POST ${url}: expected {"data": [${prefixes.length} results]} but received ${describe(json)}`, url);
      const index = typeof positive === 'number' ? positive : 1;
      for (const d of json.data) flat.push(Number(d?.probs?.[index]));
    } else {
      const url = this.http.url('/predict');
      const json = await this.http.postJson('/predict', { inputs: prefixes }) as { label: string; score: number }[][];
      if (!Array.isArray(json) || json.length !== prefixes.length) throw new RemoteError(`POST ${url}: expected a list of ${prefixes.length} results but received ${describe(json)}`, url);
      const label = typeof positive === 'string' ? positive : `LABEL_${positive ?? 1}`;
      for (const r of json) flat.push(Number((Array.isArray(r) ? r : [r]).find((x) => x?.label === label)?.score));
    }
    let k = 0;
    return this.#checked(this.http.url(this.format === 'classify' ? '/classify' : '/predict'), items.map((it) => it.steps.map(() => flat[k++])), items);
  }

  #checked(url: string, scores: number[][], items: readonly PrmItem[]): number[][] {
    items.forEach((it, i) => {
      const s = scores[i];
      if (!Array.isArray(s) || s.length !== it.steps.length || s.some((x) => !Number.isFinite(x)))
        throw new RemoteError(`${url}: expected ${it.steps.length} step scores for item ${i} but received ${describe(s)}`, url);
    });
    return scores;
  }
}
