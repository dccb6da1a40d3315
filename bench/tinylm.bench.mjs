// tinylm.bench.mjs: TinyLM end to end: a training step (forward, cross-entropy, backward, AdamW)
// in tokens/s for the embedded model and for d=256 / 4 layers / T=128, and batched generation with
// the KV cache. PyTorch rows run the same Llama architecture (same sizes, float32, autograd,
// torch.optim.AdamW; generation with a KV cache) written in bench/torch_bench.py.
import { Rng, steprl } from './common.mjs';

const { Tensor, ops } = steprl;
const { TinyLM } = await import('../dist/model/tinylm.js').then((m) => m.default ?? m);
const { AdamW } = await import('../dist/optim/adamw.js').then((m) => m.default ?? m);

const SIZES = [
  { label: 'd128-L4', hiddenSize: 128, numLayers: 4, numHeads: 4, intermediateSize: 256, B: 32, T: 96 },
  { label: 'd256-L4', hiddenSize: 256, numLayers: 4, numHeads: 4, intermediateSize: 688, B: 16, T: 128 },
];

export function register(suite, { quick }) {
  const V = 260;
  for (const size of SIZES) {
    const { B, T } = quick ? { B: 4, T: 32 } : size;
    const config = { vocabSize: V, hiddenSize: size.hiddenSize, numLayers: size.numLayers, numHeads: size.numHeads, intermediateSize: size.intermediateSize, maxPositions: 256 };
    const model = TinyLM.create(config, { seed: 1 });
    const optimizer = new AdamW(model.parameters(), { lr: 1e-4, weightDecay: 0.01 });
    const rng = new Rng(4);
    const tokens = Tensor.from(rng.ints(B * T, 0, V), [B, T]);
    const targets = Tensor.from(rng.ints(B * T, 0, V), [B * T]);
    const mask = Tensor.from(new Float32Array(B * T).fill(1), [B * T]);
    const dlogits = Tensor.zeros([B * T, V]);
    const params = model.numParameters;
    suite.add({
      name: `tinylm/train-step/cpu/${size.label}-B${B}-T${T}`, tokens: B * T, flops: 6 * params * B * T,
      run: async () => {
        const logits = await model.forward(tokens, { train: true });
        const ce = ops.crossEntropy(logits.reshape([B * T, V]), targets, mask, { out: dlogits });
        model.zeroGrad();
        await model.backward(ce.dlogits.reshape([B, T, V]));
        optimizer.step();
      },
      torch: { op: 'llama_train_step', ...config, B, T },
    });
    if (size.label === 'd128-L4') {
      const G = quick ? 8 : 64, P = 40, N = quick ? 8 : 32;
      const prompts = Array.from({ length: G }, () => Int32Array.from(rng.ints(P, 0, 256)));
      suite.add({
        name: `tinylm/generate/cpu/${size.label}-B${G}-P${P}+${N}`, tokens: G * N,
        run: async () => {
          const r = await model.generate(prompts, { maxNewTokens: N, temperature: 1, seed: 3 });
          for (const t of [r.tokens, r.mask, r.logprobs, r.entropy]) t.dispose();
        },
        torch: { op: 'llama_generate', ...config, B: G, P, N },
      });
    }
  }
}
