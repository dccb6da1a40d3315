// completions.ts: an OpenAI-compatible /v1/completions client (vLLM, llama.cpp server, SGLang).
// It serves two roles: a judge (a reward function that asks the served model and parses its
// answer) and a rollout source (completions sampled by the server, as token ids of the policy's
// tokenizer; the trainer recomputes their log-probs with the policy before the update, so a
// server running an older copy of the weights still gives a correct importance ratio).
import { ArgumentError, describe } from '../errors';
import type { SamplingOptions } from '../model/policy';
import type { Tokenizer } from '../model/tokenizer';
import type { RolloutSource } from '../optim/rollout';
import type { LoadedSample, Sample } from '../text/dataset';
import type { RewardFunction } from '../text/reward';
import { HttpClient, RemoteError, type HttpOptions } from './http';

export interface CompletionsOptions extends HttpOptions {
  /** Base URL up to (not including) /completions, e.g. http://127.0.0.1:8000/v1. */
  url: string;
  /** The served model's name (the "model" field); omitted when unset. */
  model?: string;
}

export interface CompletionRequest {
  /** Text, or token ids (vLLM, SGLang and llama.cpp accept a list of ids). */
  prompt: string | readonly number[];
  maxTokens: number;
  temperature?: number;
  topP?: number;
  /** Choices per prompt. Default 1. */
  n?: number;
  stop?: string[];
  /** Ask for the sampled tokens' log-probs (and, from vLLM, their ids). */
  logprobs?: boolean;
  seed?: number;
  /** Any further fields for the server (e.g. { top_k: 20 }). */
  extra?: Record<string, unknown>;
}

export interface Completion {
  text: string;
  finishReason: string | null;
  /** The sampled tokens as the server names them ("token_id:123" with vLLM's return_tokens_as_token_ids). */
  tokens?: string[];
  tokenLogprobs?: number[];
}

export class CompletionsClient {
  readonly http: HttpClient;
  readonly model?: string;

  constructor(options: CompletionsOptions) {
    if (typeof options !== 'object' || options === null) throw ArgumentError.expected('options', 'an object { url, ... }', options);
    this.http = new HttpClient(options.url, options);
    this.model = options.model;
  }

  async complete(request: CompletionRequest): Promise<Completion[]> {
    const body: Record<string, unknown> = {
      ...(this.model !== undefined ? { model: this.model } : {}),
      prompt: typeof request.prompt === 'string' ? request.prompt : [...request.prompt],
      max_tokens: request.maxTokens, n: request.n ?? 1,
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.topP !== undefined ? { top_p: request.topP } : {}),
      ...(request.stop ? { stop: request.stop } : {}),
      ...(request.seed !== undefined ? { seed: request.seed } : {}),
      ...(request.logprobs ? { logprobs: 1, return_tokens_as_token_ids: true } : {}),
      ...(request.extra ?? {}),
    };
    const url = this.http.url('/completions');
    const json = await this.http.postJson('/completions', body) as { choices?: { text?: unknown; finish_reason?: unknown; logprobs?: { tokens?: unknown; token_logprobs?: unknown } }[] };
    if (!Array.isArray(json?.choices) || json.choices.length !== (request.n ?? 1) || json.choices.some((c) => typeof c?.text !== 'string'))
      throw new RemoteError(`POST ${url}: expected {"choices": [${request.n ?? 1} x {"text": ...}]} but received ${describe(json)}`, url);
    return json.choices.map((c) => ({
      text: c.text as string, finishReason: typeof c.finish_reason === 'string' ? c.finish_reason : null,
      ...(Array.isArray(c.logprobs?.tokens) ? { tokens: c.logprobs!.tokens as string[] } : {}),
      ...(Array.isArray(c.logprobs?.token_logprobs) ? { tokenLogprobs: c.logprobs!.token_logprobs as number[] } : {}),
    }));
  }

  /**
   * A reward function that asks the served model: `render(completion, sample)` is the judge
   * prompt, `parse(answer, sample)` turns its completion into a reward (a non-finite one is an error).
   */
  judge<S extends Sample = LoadedSample>(options: {
    render: (completion: string, sample: S) => string;
    parse: (answer: string, sample: S) => number | { reward: number; correct?: boolean };
    maxTokens?: number;
    temperature?: number;
  }): RewardFunction<S> {
    const judge = async (completion: string, sample: S) => {
      const [choice] = await this.complete({ prompt: options.render(completion, sample), maxTokens: options.maxTokens ?? 16, temperature: options.temperature ?? 0 });
      return options.parse(choice.text, sample);
    };
    Object.defineProperty(judge, 'name', { value: `judge(${this.http.baseUrl})` });
    return judge;
  }

  /**
   * A rollout source: prompts are sent as token ids, identical prompts of a group in one request
   * (n = group size); completions come back as ids (from vLLM's "token_id:N" log-prob tokens when
   * present, else by encoding the text), with the tokenizer's stop token appended to those that
   * stopped (servers leave it out of the text).
   */
  rolloutSource(tokenizer: Tokenizer): RolloutSource {
    return {
      generate: async (requests, sampling: SamplingOptions) => {
        const groups: { prompt: Int32Array; rows: number[] }[] = [];
        requests.forEach((r, i) => {
          const last = groups.at(-1);
          if (last && last.prompt === r.prompt) last.rows.push(i);
          else groups.push({ prompt: r.prompt, rows: [i] });
        });
        const stopId = tokenizer.stopIds?.[0] ?? tokenizer.eosId;
        const out: Int32Array[] = new Array(requests.length);
        await Promise.all(groups.map(async (g, k) => {
          const choices = await this.complete({
            prompt: Array.from(g.prompt), maxTokens: sampling.maxNewTokens, temperature: sampling.temperature ?? 1, topP: sampling.topP,
            n: g.rows.length, logprobs: true, seed: sampling.seed === undefined ? undefined : (sampling.seed + k) >>> 0,
            ...(sampling.topK ? { extra: { top_k: sampling.topK } } : {}),
          });
          choices.forEach((c, j) => {
            const fromIds = c.tokens?.every((t) => /^token_id:\d+$/.test(t)) ? c.tokens.map((t) => Number(t.slice(9))) : null;
            const ids = fromIds ?? Array.from(tokenizer.encode(c.text));
            const stops = tokenizer.stopIds ?? [tokenizer.eosId];
            if (c.finishReason === 'stop' && !(ids.length > 0 && stops.includes(ids[ids.length - 1])) && ids.length < sampling.maxNewTokens) ids.push(stopId);
            const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize);
            if (bad !== undefined) throw new RemoteError(`${this.http.url('/completions')}: token id ${bad} is outside the tokenizer's vocabulary of ${tokenizer.vocabSize}`, this.http.url('/completions'));
            out[g.rows[j]] = Int32Array.from(ids.slice(0, sampling.maxNewTokens));
          });
        }));
        return out;
      },
    };
  }
}
