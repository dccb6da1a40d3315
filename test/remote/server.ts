// server.ts: a real HTTP server on 127.0.0.1 for the remote-engine tests, serving a small TinyLM:
// a learned PRM (LearnedPRM on a random TinyLM) as vLLM /pooling and /classify and TEI-style
// /predict, and OpenAI-style /v1/completions from a TinyLM over bytes. Misbehaving routes:
// /slow/* answers after `slowMs`, /flaky/* fails with 500 `failures` times then serves,
// /error500/* always fails, /bad400/* answers 400, /close/* destroys the connection.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import { TinyLM } from '../../lib/model/tinylm';
import { ByteTokenizer } from '../../lib/model/tokenizer';
import { LearnedPRM } from '../../lib/reward/learned_prm';

export const tokenizer = new ByteTokenizer();
export const SMALL = {
  vocabSize: tokenizer.vocabSize, hiddenSize: 32, numLayers: 1, numHeads: 2, intermediateSize: 64, maxPositions: 160,
  tieEmbeddings: true, bosTokenId: tokenizer.bosId, eosTokenId: tokenizer.eosId, padTokenId: tokenizer.padId,
};

export function learnedPrm(seed = 11): LearnedPRM {
  return new LearnedPRM(TinyLM.create(SMALL, { seed }), tokenizer, {
    separatorId: ByteTokenizer.STEP, labelIds: [45, 61, 43], bosId: tokenizer.bosId, padId: tokenizer.padId,
  });
}

export interface TestServer {
  url: string;
  /** Requests seen per path. */
  hits: Map<string, number>;
  /** Most requests in flight at once. */
  maxInFlight: number;
  /** Texts per request to /pooling itself (not the misbehaving routes), in order. */
  poolingBatches: number[];
  resetMaxInFlight(): void;
  close(): Promise<void>;
}

/** Splits "prompt\nstep<extra_0>step<extra_0>" back into the prompt and its steps. */
function parse(text: string): { prompt: string; steps: string[] } {
  const newline = text.indexOf('\n');
  const steps = text.slice(newline + 1).split('<extra_0>');
  steps.pop();
  return { prompt: text.slice(0, newline), steps };
}

export async function startServer(options: { prm: LearnedPRM; lm?: TinyLM; slowMs?: number; failures?: number }): Promise<TestServer> {
  const { prm, lm } = options;
  let failuresLeft = options.failures ?? 2;
  let inFlight = 0;
  const state = { hits: new Map<string, number>(), maxInFlight: 0, poolingBatches: [] as number[] };

  const routes: Record<string, (body: Record<string, unknown>, url: string) => Promise<unknown>> = {
    '/pooling': async (body, url) => {
      const input = body.input as string[];
      if (url === '/pooling') state.poolingBatches.push(input.length);
      const data = [];
      for (const [index, text] of input.entries()) {
        const { prompt, steps } = parse(text);
        data.push({ index, object: 'pooling', data: (await prm.scoreSteps(prompt, steps)).map((p) => [1 - p, p]) });
      }
      return { object: 'list', data };
    },
    '/classify': async (body) => {
      const data = [];
      for (const [index, text] of (body.input as string[]).entries()) {
        const { prompt, steps } = parse(text);
        const p = (await prm.scoreSteps(prompt, steps)).at(-1)!;
        data.push({ index, label: p > 0.5 ? 'good' : 'bad', probs: [1 - p, p], num_classes: 2 });
      }
      return { object: 'list', data };
    },
    '/predict': async (body) => {
      const out = [];
      for (const text of body.inputs as string[]) {
        const { prompt, steps } = parse(text);
        const p = (await prm.scoreSteps(prompt, steps)).at(-1)!;
        out.push([{ label: 'LABEL_1', score: p }, { label: 'LABEL_0', score: 1 - p }]);
      }
      return out;
    },
    '/v1/completions': async (body) => {
      if (!lm) throw new Error('no completions model');
      const prompt = typeof body.prompt === 'string' ? Int32Array.from([tokenizer.bosId, ...tokenizer.encode(body.prompt)]) : Int32Array.from(body.prompt as number[]);
      const n = (body.n as number) ?? 1;
      const out = await lm.generate(Array.from({ length: n }, () => prompt), {
        maxNewTokens: body.max_tokens as number, temperature: (body.temperature as number) ?? 1, seed: (body.seed as number) ?? 0, stopTokens: [tokenizer.eosId],
      });
      const T = out.tokens.shape[1], tokens = out.tokens.toArray() as Int32Array, logprobs = out.logprobs.toArray() as Float32Array;
      const choices = Array.from({ length: n }, (_, r) => {
        // Like vLLM: the stop token is neither in the text nor in the log-prob tokens.
        const ids = Array.from(tokens.subarray(r * T, r * T + out.lengths[r])).filter((id, t) => !(out.finished[r] && t === out.lengths[r] - 1));
        return {
          index: r, text: tokenizer.decode(ids), finish_reason: out.finished[r] ? 'stop' : 'length',
          logprobs: body.logprobs ? { tokens: ids.map((id) => `token_id:${id}`), token_logprobs: ids.map((_, t) => logprobs[r * T + t]) } : null,
        };
      });
      for (const t of [out.tokens, out.mask, out.logprobs, out.entropy]) t.dispose();
      return { object: 'text_completion', choices };
    },
  };

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    state.hits.set(url, (state.hits.get(url) ?? 0) + 1);
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const done = () => inFlight--;
      const [, mode, ...rest] = url.split('/');
      const route = ['slow', 'flaky', 'error500', 'bad400', 'close', 'held'].includes(mode) ? `/${rest.join('/')}` : url;
      try {
        if (mode === 'close') {
          req.socket.destroy();
          return done();
        }
        if (mode === 'error500' || (mode === 'flaky' && failuresLeft-- > 0)) {
          res.writeHead(500, { 'content-type': 'text/plain' }).end('model crashed');
          return done();
        }
        if (mode === 'bad400') {
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"error": "bad input"}');
          return done();
        }
        if (mode === 'slow' || mode === 'held') await new Promise((resolve) => setTimeout(resolve, mode === 'slow' ? (options.slowMs ?? 2000) : 30));
        const handler = routes[route];
        if (!handler) {
          res.writeHead(404).end('not found');
          return done();
        }
        const answer = await handler(JSON.parse(Buffer.concat(chunks).toString('utf8')), url);
        if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      } catch (error) {
        if (!res.destroyed) res.writeHead(500).end(String((error as Error).message));
      }
      done();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get hits() { return state.hits; },
    get maxInFlight() { return state.maxInFlight; },
    get poolingBatches() { return state.poolingBatches; },
    resetMaxInFlight: () => (state.maxInFlight = inFlight),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
