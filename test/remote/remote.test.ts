// remote.test.ts: the HTTP engines against a real server on 127.0.0.1 (test/remote/server.ts)
// serving small TinyLMs: a served PRM in vLLM /pooling, /classify and TEI-style /predict shapes
// gives the scores the model gives directly, in batches, with a bounded number of requests in
// flight; a slow server times out, 500s are retried then reported, a 400 is not retried, a
// closed connection is an error naming the URL; the completions client works as a judge and as a
// rollout source whose log-probs the policy recomputes.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { TinyLM } from '../../lib/model/tinylm';
import { Trainer } from '../../lib/optim/base';
import { prpo } from '../../lib/optim/prpo';
import { collectRollouts } from '../../lib/optim/rollout';
import { CompletionsClient } from '../../lib/remote/completions';
import { HttpClient, RemoteError } from '../../lib/remote/http';
import { RemotePRM } from '../../lib/remote/prm';
import { combineRewards } from '../../lib/text/reward';
import { defaultPromptFormat } from '../../lib/text/prompt';
import { learnedPrm, SMALL, startServer, tokenizer, type TestServer } from './server';

/** Settles a call that must fail: its resolution is a test failure. */
function unexpected(): never {
  throw new Error('expected the call to fail');
}

const prm = learnedPrm();
const lm = TinyLM.create(SMALL, { seed: 5 });
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ prm, lm, slowMs: 1500, failures: 2 });
});
afterAll(async () => {
  await server.close();
});

const ITEMS = [
  { prompt: '3+4', steps: ['3+4=7\n', 'Answer: 7'] },
  { prompt: '10-2', steps: ['10-2=8\n', 'so 8\n', 'Answer: 8'] },
  { prompt: '2*6', steps: ['Answer: 12'] },
];

describe('RemotePRM', () => {
  test('vLLM /pooling: the served scores, concurrent calls batched', async () => {
    const remote = new RemotePRM({ url: server.url, format: 'pooling', batchSize: 2 });
    const before = server.poolingBatches.length;
    const scores = await Promise.all(ITEMS.map((it) => remote.scoreSteps(it.prompt, it.steps)));
    for (const [i, it] of ITEMS.entries()) expect(scores[i]).toEqual(await prm.scoreSteps(it.prompt, it.steps));
    expect(server.poolingBatches.slice(before)).toEqual([2, 1]);
    expect(await remote.scoreSteps('x', [])).toEqual([]);
  });

  test('vLLM /classify and TEI-style /predict score every prefix', async () => {
    for (const format of ['classify', 'tgi'] as const) {
      const remote = new RemotePRM({ url: server.url, format, batchSize: 4 });
      const scores = await Promise.all(ITEMS.map((it) => remote.scoreSteps(it.prompt, it.steps)));
      for (const [i, it] of ITEMS.entries()) {
        const expected = [];
        for (let k = 1; k <= it.steps.length; k++) expected.push((await prm.scoreSteps(it.prompt, it.steps.slice(0, k))).at(-1));
        expect(scores[i]).toEqual(expected);
      }
    }
  });

  test('a custom request/answer mapping', async () => {
    const remote = new RemotePRM({
      url: server.url,
      format: {
        request: (items) => ({ path: '/predict', body: { inputs: items.map((it) => `${it.prompt}\n${it.steps.join('<extra_0>')}<extra_0>`) } }),
        parse: (json, items) => items.map((it, i) => it.steps.map(() => (json as { score: number }[][])[i][0].score)),
      },
    });
    const [s] = await Promise.all([remote.scoreSteps(ITEMS[0].prompt, ITEMS[0].steps)]);
    const last = (await prm.scoreSteps(ITEMS[0].prompt, ITEMS[0].steps)).at(-1)!;
    expect(s).toEqual([last, last]);
  });

  test('a wrong answer shape is a RemoteError naming the URL', async () => {
    const remote = new RemotePRM({ url: server.url, format: { request: () => ({ path: '/predict', body: { inputs: ['a\nb<extra_0>'] } }), parse: () => [[0.5, 0.5, 0.5]] } });
    await expect(remote.scoreSteps('a', ['b'])).rejects.toThrow(new RegExp(`${server.url}/predict: expected 1 step scores for item 0`));
  });

  test('bad options are typed errors', () => {
    expect(() => new RemotePRM({ url: 'ftp://x' })).toThrow(/url/);
    expect(() => new RemotePRM({ url: server.url, format: 'nope' as never })).toThrow(/format/);
    expect(() => new RemotePRM({ url: server.url, batchSize: 0 })).toThrow(/batchSize/);
    expect(() => new RemotePRM({ url: server.url, timeoutMs: -1 })).toThrow(/timeoutMs/);
  });
});

describe('HTTP failures', () => {
  const body = { input: ['a\nb<extra_0>'] };
  test('a slow server times out after every attempt', async () => {
    const client = new HttpClient(`${server.url}/slow`, { timeoutMs: 100, retries: 1, backoffMs: 10 });
    const started = Date.now();
    const error = await client.postJson('/pooling', body).then(unexpected, (e: RemoteError) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.message).toBe(`POST ${server.url}/slow/pooling: no answer within 100 ms (after 2 attempts)`);
    expect(error.url).toBe(`${server.url}/slow/pooling`);
    expect(Date.now() - started).toBeLessThan(1400);
    expect(server.hits.get('/slow/pooling')).toBe(2);
  });

  test('500s are retried with backoff, then pass or are reported with the status', async () => {
    const flaky = new HttpClient(`${server.url}/flaky`, { retries: 3, backoffMs: 20 });
    const started = Date.now();
    const json = await flaky.postJson('/pooling', body) as { data: unknown[] };
    expect(json.data.length).toBe(1);
    expect(server.hits.get('/flaky/pooling')).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(20 + 40 - 5);
    const broken = new HttpClient(`${server.url}/error500`, { retries: 2, backoffMs: 1 });
    const error = await broken.postJson('/pooling', body).then(unexpected, (e: RemoteError) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.status).toBe(500);
    expect(error.message).toBe(`POST ${server.url}/error500/pooling: HTTP 500 model crashed (after 3 attempts)`);
    expect(server.hits.get('/error500/pooling')).toBe(3);
  });

  test('a 400 is not retried', async () => {
    const error = await new HttpClient(`${server.url}/bad400`, { retries: 3, backoffMs: 1 }).postJson('/pooling', body).then(unexpected, (e: RemoteError) => e);
    expect(error.status).toBe(400);
    expect(error.message).toBe(`POST ${server.url}/bad400/pooling: HTTP 400 {"error": "bad input"}`);
    expect(server.hits.get('/bad400/pooling')).toBe(1);
  });

  test('a closed connection is retried, then an error naming the URL; a refused one too', async () => {
    const error = await new HttpClient(`${server.url}/close`, { retries: 1, backoffMs: 1 }).postJson('/pooling', body).then(unexpected, (e: RemoteError) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.message).toMatch(new RegExp(`^POST ${server.url}/close/pooling: .+ \\(after 2 attempts\\)$`));
    expect(server.hits.get('/close/pooling')).toBe(2);
    // A port nothing listens on: take a free one and close it.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const refused = await new HttpClient(`http://127.0.0.1:${port}`, { retries: 0 }).postJson('/pooling', body).then(unexpected, (e: RemoteError) => e);
    expect(refused.message).toBe(`POST http://127.0.0.1:${port}/pooling: ECONNREFUSED (after 1 attempt)`);
  });

  test('no more requests in flight than the concurrency limit', async () => {
    const client = new HttpClient(`${server.url}/held`, { concurrency: 2 });
    await new Promise((resolve) => setTimeout(resolve, 1600));  // the slow route's answers are done
    server.resetMaxInFlight();
    expect(server.maxInFlight).toBe(0);
    await Promise.all(Array.from({ length: 6 }, () => client.postJson('/pooling', body)));
    expect(server.hits.get('/held/pooling')).toBe(6);
    expect(server.maxInFlight).toBe(2);
  });
});

describe('OpenAI-compatible completions', () => {
  test('as a judge: a reward function that asks the served model', async () => {
    const completions = new CompletionsClient({ url: `${server.url}/v1` });
    const judge = completions.judge({ render: (c) => `Is "${c}" right?`, parse: (answer) => answer.length % 2, maxTokens: 6 });
    const verdict = await combineRewards(judge)('7', { id: '0', prompt: '3+4' });
    expect([0, 1]).toContain(verdict.reward);
    expect(server.hits.get('/v1/completions')).toBeGreaterThanOrEqual(1);
  });

  test('as a rollout source: the server samples, the policy recomputes log-probs', async () => {
    const completions = new CompletionsClient({ url: `${server.url}/v1` });
    const policy = TinyLM.create(SMALL, { seed: 5 });  // the server's weights: recomputed log-probs must match its own
    const seen: { n: number; logprobs: number[][] }[] = [];
    const original = completions.complete.bind(completions);
    completions.complete = async (request) => {
      const out = await original(request);
      seen.push({ n: request.n ?? 1, logprobs: out.map((c) => c.tokenLogprobs ?? []) });
      return out;
    };
    const env = { promptFormat: defaultPromptFormat, verify: combineRewards((c: string) => (c.includes('1') ? 1 : 0)), source: completions.rolloutSource(tokenizer) };
    const samples = [{ id: '0', prompt: '1+2' }, { id: '1', prompt: '5+5' }];
    const batch = await collectRollouts(policy, tokenizer, env, samples, { groupSize: 3, sampling: { maxNewTokens: 12, temperature: 1, seed: 9 } });
    expect(seen.map((s) => s.n)).toEqual([3, 3]);
    expect(batch.R).toBe(6);
    for (let r = 0; r < batch.R; r++) {
      const served = seen[Math.floor(r / 3)].logprobs[r % 3];
      for (let t = 0; t < served.length; t++) expect(batch.oldLogprobs[r * batch.T + t]).toBeCloseTo(served[t], 4);
      for (let t = 0; t < batch.T; t++) expect(batch.mask[r * batch.T + t]).toBe(t < batch.lengths[r] ? 1 : 0);
      expect(batch.texts[r]).toBe(tokenizer.decode(batch.tokens.subarray(r * batch.T, r * batch.T + batch.lengths[r])));
    }
    expect(batch.entropy.some((e) => e > 0)).toBe(true);
  });
});

test('end to end: one PRPO step trains a small random checkpoint from string problems, a JS reward and a PRM served over HTTP', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-e2e-'));
  try {
    TinyLM.create(SMALL, { seed: 21 }).save(path.join(dir, 'start'));
    const policy = TinyLM.load(path.join(dir, 'start'));
    const reference = TinyLM.load(path.join(dir, 'start'));
    const before = Float32Array.from(policy.weightBuffer.toArray() as Float32Array);
    const problems = [{ prompt: 'What is 2+3?', answer: '5' }, { prompt: 'What is 4+4?', answer: '8' }, { prompt: 'What is 9-6?', answer: '3' }];
    const remote = new RemotePRM({ url: server.url, format: 'pooling', batchSize: 8, concurrency: 2, timeoutMs: 20000 });
    const pooled = server.poolingBatches.length;
    const trainer = new Trainer({
      policy, reference, algorithm: prpo({ minGap: 2 }), tokenizer, dataset: problems, prm: remote,
      reward: async (completion: string, sample: { answer?: string }) => (completion.includes(sample.answer!) ? 1 : 0),
      promptsPerStep: 3, groupSize: 4, maxNewTokens: 16, lr: 1e-3, seed: 2,
    });
    const m = await trainer.trainStep();
    expect(Number.isFinite(m.loss)).toBe(true);
    expect(m.gradNorm).toBeGreaterThan(0);
    const after = policy.weightBuffer.toArray() as Float32Array;
    expect(after.some((w, i) => w !== before[i])).toBe(true);
    // All 12 responses were scored by the served PRM, in batches of at most 8.
    const batches = server.poolingBatches.slice(pooled);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(12);
    expect(Math.max(...batches)).toBeLessThanOrEqual(8);
    policy.save(path.join(dir, 'after'));
    expect(TinyLM.load(path.join(dir, 'after')).config.vocabSize).toBe(SMALL.vocabSize);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
