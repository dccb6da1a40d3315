# torch_bench.py: times the PyTorch counterpart of each bench row (same shapes, 2 threads), so the
# table can show both side by side. Reads a JSON list of jobs on stdin, prints {name: median_ms}.
import json
import sys
import time

import torch

torch.set_num_threads(2)


def median_ms(fn, warmup=2, repeats=15, budget=3.0):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeats and (len(times) < 5 or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def token_logprobs(job, entropy=False, backward=False):
    R, V = job["R"], job["V"]
    dtype = torch.bfloat16 if job["dtype"] == "bfloat16" else torch.float32
    logits = (torch.randn(R, V) * 3).to(dtype)
    targets = torch.randint(0, V, (R,))
    if backward:
        leaf = logits.clone().requires_grad_(True)
        logprobs = torch.log_softmax(leaf, -1).gather(-1, targets[:, None])[:, 0]
        g = torch.randn(R)
        return lambda: torch.autograd.grad(logprobs, leaf, g, retain_graph=True)

    def forward():
        with torch.no_grad():
            logp = torch.log_softmax(logits.float() if dtype != torch.float32 else logits, -1)
            out = logp.gather(-1, targets[:, None])
            if entropy:
                (logp.exp() * logp).sum(-1)
            return out

    return forward


def rl_batch(job):
    R, T = job["R"], job["T"]
    lp = torch.randn(R, T) * 0.3 - 1.5
    return lp, lp + 0.05 * torch.randn(R, T), lp + 0.1 * torch.randn(R, T), torch.randn(R, T), (torch.rand(R, T) < 0.6).float()


def kl_k3(job):
    lp, _, ref, _, _ = rl_batch(job)

    def run():
        d = (ref - lp).clamp(-20, 20)
        kl = (torch.expm1(d) - d).clamp(-10, 10)
        dkl = 1 - torch.exp(d)
        return kl, dkl

    return run


def policy_loss(job):
    lp, old, ref, adv, mask = rl_batch(job)

    def run():
        x = lp.clone().requires_grad_(True)
        ratio = torch.exp((x - old).clamp(-20, 20))
        pg = torch.max(-adv * ratio, -adv * ratio.clamp(0.8, 1.2))
        d = (ref - x).clamp(-20, 20)
        kl = (torch.exp(d) - d - 1).clamp(-10, 10)
        loss = ((pg + 0.001 * kl) * mask).sum() / mask.sum()
        loss.backward()
        return x.grad

    return run


def group_advantage(job):
    groups, G = job["groups"], job["G"]
    rewards = (torch.rand(groups * G) < 0.4).float()
    ids = torch.arange(groups * G) // G

    def run():
        # verl's compute_grpo_outcome_advantage, vectorized with scatter (ids need not be contiguous)
        count = torch.zeros(groups).index_add_(0, ids, torch.ones_like(rewards))
        mean = torch.zeros(groups).index_add_(0, ids, rewards) / count
        centered = rewards - mean[ids]
        std = (torch.zeros(groups).index_add_(0, ids, centered * centered) / (count - 1)).sqrt()
        return centered / (std[ids] + 1e-6)

    return run


# The advantage families (advantage.bench.mjs): a batch of R rows (groups of G adjacent rows) of T
# tokens, lengths T/4..T, K steps a row (K − 1 random ends, then L − 1). Each *_core takes tensors,
# so it can be checked against steprl on the same inputs; float32 throughout.
def rl_rows(job):
    R, T, G, K = job["R"], job["T"], job["G"], job["K"]
    lengths = torch.randint(T // 4, T + 1, (R,))
    mask = (torch.arange(T)[None, :] < lengths[:, None]).float()
    ends = torch.stack([torch.cat((torch.randperm(int(L) - 1)[: K - 1].sort().values, torch.tensor([int(L) - 1]))) for L in lengths])
    step_row = torch.arange(R).repeat_interleave(K)
    return mask, torch.arange(R) // G, ends.reshape(-1), step_row


def gae_core(rewards, values, mask, gamma=1.0, lam=0.95):
    # TRL's legacy PPOTrainer.compute_advantages: a reverse loop over T, then masked_whiten.
    rewards, values = rewards * mask, values * mask
    T = rewards.shape[1]
    last, reversed_ = torch.zeros(rewards.shape[0]), []
    for t in reversed(range(T)):
        next_values = values[:, t + 1] if t < T - 1 else 0.0
        delta = rewards[:, t] + gamma * next_values - values[:, t]
        last = delta + gamma * lam * last
        reversed_.append(last)
    advantages = torch.stack(reversed_[::-1], 1)
    returns = (advantages + values) * mask
    n = mask.sum()
    mean = (advantages * mask).sum() / n
    variance = (((advantages - mean) ** 2) * mask).sum() / n * (n / (n - 1))
    return (advantages - mean) * torch.rsqrt(variance + 1e-8) * mask, returns


def prl_core(outcome, old, ref, mask, step_end_mask, eta=200.0):
    d = mask * (old - ref)
    suffix = d.flip(1).cumsum(1).flip(1)
    R, T = d.shape
    position = torch.arange(T).expand(R, T)
    is_end = step_end_mask.bool() | (position == (mask.sum(1).long() - 1)[:, None])
    next_end = torch.where(is_end, position, torch.full_like(position, T - 1)).flip(1).cummin(1).values.flip(1)
    return (outcome[:, None] - suffix / eta).gather(1, next_end) * mask


def prpo_core(scores, rewards, group_ids, mask, mu0=0.5, sigma0=(1 / 24) ** 0.5):
    groups = int(group_ids.max()) + 1
    count = torch.zeros(groups).index_add_(0, group_ids, torch.ones_like(rewards))
    beta = rewards - (torch.zeros(groups).index_add_(0, group_ids, rewards) / count)[group_ids]
    return ((scores - mu0) / sigma0 + beta[:, None]) * mask


def entropy_segments_core(entropy, mask, K=5, min_gap=10):
    R, T = entropy.shape
    anchors = entropy.masked_fill(mask == 0, float("-inf")).topk(K, 1).indices.sort(1).values
    cuts, last = torch.zeros(R, T), torch.zeros(R, dtype=torch.long)
    for k in range(K):
        a = anchors[:, k]
        take = (a - last) >= min_gap
        cuts.scatter_add_(1, a[:, None], take.float()[:, None])
        last = torch.where(take, a, last)
    ids = cuts.cumsum(1) * (mask.sum(1) >= K + 1).float()[:, None]
    return torch.where(mask > 0, ids, torch.full_like(ids, -1)).int()


def process_grpo_core(step_rewards, step_ends, step_row, group_ids, mask, eps=1e-6):
    R, T = mask.shape
    groups = int(group_ids.max()) + 1
    step_group = group_ids[step_row]
    count = torch.zeros(groups).index_add_(0, step_group, torch.ones_like(step_rewards))
    mean = torch.zeros(groups).index_add_(0, step_group, step_rewards) / count
    centred = step_rewards - mean[step_group]
    std = (torch.zeros(groups).index_add_(0, step_group, centred * centred) / (count - 1)).sqrt()
    normalized = torch.where((count > 1)[step_group] & (std > 0)[step_group], centred / (std[step_group] + eps), torch.zeros_like(centred))
    scattered = torch.zeros(R * T).index_add_(0, step_row * T + step_ends, normalized).view(R, T)
    return scattered.flip(1).cumsum(1).flip(1) * mask


def step_log_sums(step_scores, step_row, R):
    logs = step_scores.clamp_min(1e-12).log()
    return torch.zeros(R).index_add_(0, step_row, logs), torch.zeros(R).index_add_(0, step_row, torch.ones_like(logs))


def weibull_core(step_scores, step_row, R, k=1.5, lam=8.0, C=10.735, min_steps=2):
    log_sum, n = step_log_sums(step_scores, step_row, R)
    h = C * (k / lam) * (n / lam) ** (k - 1) * torch.exp(-((n / lam) ** k))
    return torch.where(n >= min_steps, (log_sum / n).exp() * h, torch.zeros_like(n))


def prm_score_core(step_scores, step_row, R):
    return step_log_sums(step_scores, step_row, R)[0].exp()


def advantage_family(job):
    R, T, G, K = job["R"], job["T"], job["G"], job["K"]
    mask, group_ids, ends, step_row = rl_rows(job)
    rewards = (torch.rand(R) < 0.4).float()
    old = torch.randn(R, T) * 0.3 - 1.5
    op = job["op"]
    if op == "gae":
        token_rewards = torch.zeros(R, T).scatter_(1, (mask.sum(1).long() - 1)[:, None], rewards[:, None])
        values = torch.randn(R, T) * 0.5
        return lambda: gae_core(token_rewards, values, mask)
    if op == "prl_advantage":
        step_end_mask = torch.zeros(R * T, dtype=torch.uint8).index_fill_(0, step_row * T + ends, 1).view(R, T)
        outcome, ref = torch.randn(R), old + 0.1 * torch.randn(R, T)
        return lambda: prl_core(outcome, old, ref, mask, step_end_mask)
    if op == "prpo_advantage":
        scores = torch.rand(R, T)
        return lambda: prpo_core(scores, rewards, group_ids, mask)
    if op == "entropy_segments":
        entropy = torch.rand(R, T) * 3
        return lambda: entropy_segments_core(entropy, mask)
    if op == "process_grpo_advantage":
        step_rewards = (torch.rand(R * K) < 0.6).float()
        return lambda: process_grpo_core(step_rewards, ends, step_row, group_ids, mask)
    step_scores = 0.05 + 0.9 * torch.rand(R * K)
    if op == "weibull_reward":
        return lambda: weibull_core(step_scores, step_row, R)
    return lambda: prm_score_core(step_scores, step_row, R)


def policy_loss_mode(mode):
    # GSPO (sequence ratio, clipped per sequence, 3e-4/4e-4), GSPO-token, CISPO (-sg(clip(rho)) A log pi)
    def build(job):
        lp, old, _, adv, mask = rl_batch(job)
        lengths = mask.sum(1, keepdim=True).clamp(min=1)

        def run():
            x = lp.clone().requires_grad_(True)
            if mode == "cispo":
                weight = torch.exp((x - old).clamp(-20, 20)).clamp(0.0, 1.28).detach()
                loss = (-weight * adv * x * mask).sum() / mask.sum()
            else:
                seq = (((x - old) * mask).sum(1, keepdim=True) / lengths)
                if mode == "gspo":
                    s = torch.exp(seq.clamp(-20, 20))
                else:
                    s = torch.exp((x - x.detach() + seq.detach()).clamp(-20, 20))
                pg = torch.max(-adv * s, -adv * s.clamp(1 - 3e-4, 1 + 4e-4))
                loss = ((pg * mask).sum(1, keepdim=True) / lengths).mean()
            loss.backward()
            return x.grad

        return run

    return build


def rloo(job):
    groups, G = job["groups"], job["G"]
    rewards = (torch.rand(groups * G) < 0.4).float()
    ids = torch.arange(groups * G) // G

    def run():
        # OpenRLHF's rloo: baseline = (sum - r) / (G - 1)
        sums = torch.zeros(groups).index_add_(0, ids, rewards)
        count = torch.zeros(groups).index_add_(0, ids, torch.ones_like(rewards))
        return rewards - (sums[ids] - rewards) / (count[ids] - 1)

    return run


def reinforce_pp(job):
    R, T, G = job["R"], job["T"], job["G"]
    _, old, ref, _, mask = rl_batch(job)
    rewards = (torch.rand(R) < 0.4).float()
    lengths = (mask * torch.arange(1, T + 1)).amax(dim=1).long().clamp(min=1)

    def run():
        # OpenRLHF reinforce_baseline: group-mean baseline, compute_reward, cumulative returns, normalize
        r = rewards.view(-1, G)
        r = (r - r.mean(-1, keepdim=True)).flatten()
        token = -0.01 * (old - ref) * mask
        token[torch.arange(R), lengths - 1] += r
        returns = token.flip(1).cumsum(1).flip(1) * mask
        n = mask.sum()
        mean = returns.sum() / n
        var = (((returns - mean) ** 2) * mask).sum() / n
        return (returns - mean) * var.clamp(min=1e-8).rsqrt() * mask

    return run


def linear(job, backward=False):
    N, C, OC = job["N"], job["C"], job["OC"]
    inp, weight = torch.randn(N, C), torch.randn(OC, C) * 0.05
    if not backward:
        return lambda: torch.nn.functional.linear(inp, weight)
    inp.requires_grad_(True)
    weight.requires_grad_(True)
    out = torch.nn.functional.linear(inp, weight)
    g = torch.randn(N, OC)
    return lambda: torch.autograd.grad(out, (inp, weight), g, retain_graph=True)


def causal_attention(q, k, v, scale):
    T, S = q.shape[-2], k.shape[-2]
    mask = torch.ones(T, S, dtype=torch.bool).tril(S - T)
    scores = (q @ k.transpose(-1, -2)) * scale
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ v


def attention(job, backward=False):
    B, T, H, D = job["B"], job["T"], job["H"], job["D"]
    q, k, v = (torch.randn(B, H, T, D) for _ in range(3))
    if not backward:
        return lambda: causal_attention(q, k, v, D ** -0.5)
    for t in (q, k, v):
        t.requires_grad_(True)
    out = causal_attention(q, k, v, D ** -0.5)
    g = torch.randn_like(out)
    return lambda: torch.autograd.grad(out, (q, k, v), g, retain_graph=True)


def attention_decode(job):
    B, S, H, D = job["B"], job["S"], job["H"], job["D"]
    q, k, v = torch.randn(B, H, 1, D), torch.randn(B, H, S, D), torch.randn(B, H, S, D)
    return lambda: torch.softmax((q @ k.transpose(-1, -2)) * D ** -0.5, dim=-1) @ v


def rmsnorm(job, backward=False):
    N, C = job["N"], job["C"]
    x, w = torch.randn(N, C), torch.randn(C)

    def forward(x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6))

    if not backward:
        return lambda: forward(x, w)
    x.requires_grad_(True)
    w.requires_grad_(True)
    out = forward(x, w)
    g = torch.randn_like(out)
    return lambda: torch.autograd.grad(out, (x, w), g, retain_graph=True)


def swiglu(job, backward=False):
    N, F = job["N"], job["F"]
    gu = torch.randn(N, 2 * F)
    if not backward:
        return lambda: torch.nn.functional.silu(gu[:, :F]) * gu[:, F:]
    gu.requires_grad_(True)
    out = torch.nn.functional.silu(gu[:, :F]) * gu[:, F:]
    g = torch.randn_like(out)
    return lambda: torch.autograd.grad(out, gu, g, retain_graph=True)


def rope(job):
    N, H, D = job["N"], job["H"], job["D"]
    x = torch.randn(N, H, D)
    inv_freq = 1.0 / (10000 ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    freqs = (torch.arange(N) % 128).float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]

    def apply():
        rotated = torch.cat((-x[..., D // 2:], x[..., : D // 2]), dim=-1)
        return x * cos + rotated * sin

    return apply


def adamw(job):
    param = torch.nn.Parameter(torch.randn(job["n"]))
    param.grad = torch.randn(job["n"]) * 0.01
    optimizer = torch.optim.AdamW([param], lr=1e-4, weight_decay=0.01)
    return optimizer.step


def grad_norm(job):
    g = torch.randn(job["n"])
    return lambda: torch.linalg.vector_norm(g)


def sample(job, top_p=None):
    logits = torch.randn(job["B"], job["V"]) * 3

    def draw():
        probs = torch.softmax(logits, dim=-1)
        if top_p is not None:
            sorted_probs, index = torch.sort(probs, descending=True)
            keep = (sorted_probs.cumsum(-1) - sorted_probs) < top_p
            sorted_probs = sorted_probs * keep
            return index.gather(-1, torch.multinomial(sorted_probs, 1))
        return torch.multinomial(probs, 1)

    return draw


class Llama(torch.nn.Module):
    """The TinyLM architecture (Llama: RMSNorm, RoPE rotate_half, SwiGLU, tied head) in plain torch."""

    def __init__(self, j):
        super().__init__()
        C, F, V, self.H = j["hiddenSize"], j["intermediateSize"], j["vocabSize"], j["numHeads"]
        self.D = C // self.H
        self.embed = torch.nn.Embedding(V, C)
        self.layers = torch.nn.ModuleList()
        for _ in range(j["numLayers"]):
            self.layers.append(torch.nn.ModuleDict({
                "qkv": torch.nn.Linear(C, 3 * C, bias=False), "o": torch.nn.Linear(C, C, bias=False),
                "gu": torch.nn.Linear(C, 2 * F, bias=False), "down": torch.nn.Linear(F, C, bias=False),
            }))
        self.norm_w = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(C)) for _ in range(2 * j["numLayers"] + 1)])
        inv = 1.0 / (10000 ** (torch.arange(0, self.D, 2).float() / self.D))
        freqs = torch.arange(512).float()[:, None] * inv[None]
        emb = torch.cat((freqs, freqs), -1)
        self.cos, self.sin = emb.cos(), emb.sin()

    def rms(self, x, i):
        return self.norm_w[i] * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)

    def rope(self, x, pos):
        half = x.shape[-1] // 2
        rot = torch.cat((-x[..., half:], x[..., :half]), -1)
        return x * self.cos[pos][:, None] + rot * self.sin[pos][:, None]

    def forward(self, tokens, cache=None, start=0):
        B, T = tokens.shape
        x = self.embed(tokens)
        pos = torch.arange(start, start + T)
        for i, layer in enumerate(self.layers):
            h = self.rms(x, 2 * i)
            q, k, v = layer["qkv"](h).view(B, T, 3, self.H, self.D).unbind(2)
            q, k = self.rope(q, pos), self.rope(k, pos)
            q, k, v = (t.transpose(1, 2) for t in (q, k, v))
            if cache is not None:
                if i in cache:
                    k, v = torch.cat((cache[i][0], k), 2), torch.cat((cache[i][1], v), 2)
                cache[i] = (k, v)
            S = k.shape[2]
            att = (q @ k.transpose(-1, -2)) / self.D ** 0.5
            mask = torch.ones(T, S, dtype=torch.bool).tril(S - T)
            att = att.masked_fill(~mask, float("-inf")).softmax(-1)
            x = x + layer["o"]((att @ v).transpose(1, 2).reshape(B, T, -1))
            g, u = layer["gu"](self.rms(x, 2 * i + 1)).chunk(2, -1)
            x = x + layer["down"](torch.nn.functional.silu(g) * u)
        return self.rms(x, 2 * len(self.layers)) @ self.embed.weight.T


def llama_train_step(job):
    model = Llama(job)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    tokens = torch.randint(0, job["vocabSize"], (job["B"], job["T"]))
    targets = torch.randint(0, job["vocabSize"], (job["B"] * job["T"],))

    def run():
        logits = model(tokens)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, job["vocabSize"]), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return run


def llama_generate(job):
    model = Llama(job)
    prompts = torch.randint(0, 256, (job["B"], job["P"]))

    def run():
        with torch.no_grad():
            cache = {}
            logits = model(prompts, cache, 0)
            for t in range(job["N"]):
                probs = torch.softmax(logits[:, -1], -1)
                nxt = torch.multinomial(probs, 1)
                torch.log_softmax(logits[:, -1], -1).gather(-1, nxt)
                logits = model(nxt, cache, job["P"] + t)

    return run


class Qwen2(torch.nn.Module):
    """The Qwen2 architecture TinyLM implements (GQA, q/k/v bias, RoPE, SwiGLU, tied embeddings) in plain torch."""

    def __init__(self, j):
        super().__init__()
        C, F, V = j["hiddenSize"], j["intermediateSize"], j["vocabSize"]
        self.H, self.KVH = j["numHeads"], j["numKvHeads"]
        self.D = C // self.H
        self.embed = torch.nn.Embedding(V, C)
        self.layers = torch.nn.ModuleList()
        for _ in range(j["numLayers"]):
            self.layers.append(torch.nn.ModuleDict({
                "q": torch.nn.Linear(C, self.H * self.D), "k": torch.nn.Linear(C, self.KVH * self.D),
                "v": torch.nn.Linear(C, self.KVH * self.D), "o": torch.nn.Linear(self.H * self.D, C, bias=False),
                "gu": torch.nn.Linear(C, 2 * F, bias=False), "down": torch.nn.Linear(F, C, bias=False),
            }))
        self.norm_w = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(C)) for _ in range(2 * j["numLayers"] + 1)])
        inv = 1.0 / (j["ropeTheta"] ** (torch.arange(0, self.D, 2).float() / self.D))
        freqs = torch.arange(j["maxPositions"]).float()[:, None] * inv[None]
        emb = torch.cat((freqs, freqs), -1)
        self.cos, self.sin = emb.cos(), emb.sin()

    def rms(self, x, i):
        return self.norm_w[i] * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)

    def rope(self, x, pos):
        half = x.shape[-1] // 2
        rot = torch.cat((-x[..., half:], x[..., :half]), -1)
        return x * self.cos[pos][:, None] + rot * self.sin[pos][:, None]

    def forward(self, tokens, cache=None, start=0):
        """Logits of every position; with `cache` (a dict), keys/values of earlier calls are reused (decode)."""
        B, T = tokens.shape
        x = self.embed(tokens)
        pos = torch.arange(start, start + T)
        for i, layer in enumerate(self.layers):
            h = self.rms(x, 2 * i)
            q = self.rope(layer["q"](h).view(B, T, self.H, self.D), pos).transpose(1, 2)
            k = self.rope(layer["k"](h).view(B, T, self.KVH, self.D), pos).transpose(1, 2)
            v = layer["v"](h).view(B, T, self.KVH, self.D).transpose(1, 2)
            if cache is not None:
                if i in cache:
                    k, v = torch.cat((cache[i][0], k), 2), torch.cat((cache[i][1], v), 2)
                cache[i] = (k, v)
            S = k.shape[2]
            mask = torch.ones(T, S, dtype=torch.bool).tril(S - T)
            k, v = (t.repeat_interleave(self.H // self.KVH, 1) for t in (k, v))
            att = ((q @ k.transpose(-1, -2)) / self.D ** 0.5).masked_fill(~mask, float("-inf")).softmax(-1)
            x = x + layer["o"]((att @ v).transpose(1, 2).reshape(B, T, -1))
            g, u = layer["gu"](self.rms(x, 2 * i + 1)).chunk(2, -1)
            x = x + layer["down"](torch.nn.functional.silu(g) * u)
        return self.rms(x, 2 * len(self.layers)) @ self.embed.weight.T


def rl_train_step(job):
    """One policy-gradient step as steprl's rl-step rows run it: log-softmax + gather of the sampled
    tokens, PPO clipped loss (token mean), autograd backward, AdamW."""
    model = Qwen2(job)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=0.01)
    B, T, V = job["B"], job["T"], job["vocabSize"]
    tokens = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    advantages = torch.randn(B, T)
    old = {}

    def run():
        logits = model(tokens)
        logprobs = torch.log_softmax(logits, -1).gather(-1, targets[..., None])[..., 0]
        if "lp" not in old:
            old["lp"] = logprobs.detach().clone()
        ratio = (logprobs - old["lp"]).exp()
        loss = -torch.min(ratio * advantages, ratio.clamp(0.8, 1.2) * advantages).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return run


def qwen2_generate(job):
    """Batched sampling with the KV cache as steprl's decode rows run it: prefill B x P, then N steps of
    softmax sampling + the sampled token's log-prob and the entropy, one token per row per step."""
    model = Qwen2(job)
    prompts = torch.randint(0, job["vocabSize"], (job["B"], job["P"]))

    def run():
        with torch.no_grad():
            cache = {}
            logits = model(prompts, cache, 0)[:, -1]
            for t in range(job["N"]):
                logp = torch.log_softmax(logits, -1)
                nxt = torch.multinomial(logp.exp(), 1)
                logp.gather(-1, nxt)
                -(logp.exp() * logp).sum(-1)
                if t + 1 < job["N"]:
                    logits = model(nxt, cache, job["P"] + t)[:, -1]

    return run


BUILDERS = {
    "qwen2_generate": qwen2_generate,
    "rl_train_step": rl_train_step,
    "llama_train_step": llama_train_step,
    "llama_generate": llama_generate,
    "linear_forward": lambda j: linear(j),
    "linear_backward": lambda j: linear(j, backward=True),
    "attention_forward": lambda j: attention(j),
    "attention_backward": lambda j: attention(j, backward=True),
    "attention_decode": attention_decode,
    "rmsnorm_forward": lambda j: rmsnorm(j),
    "rmsnorm_backward": lambda j: rmsnorm(j, backward=True),
    "swiglu_forward": lambda j: swiglu(j),
    "swiglu_backward": lambda j: swiglu(j, backward=True),
    "rope_forward": rope,
    "adamw": adamw,
    "grad_norm": grad_norm,
    "sample_top_p": lambda j: sample(j, top_p=j["topP"]),
    "sample_plain": lambda j: sample(j),

    "kl_k3": kl_k3,
    "policy_loss": policy_loss,
    "group_advantage": group_advantage,
    "gae": advantage_family,
    "prl_advantage": advantage_family,
    "prpo_advantage": advantage_family,
    "entropy_segments": advantage_family,
    "process_grpo_advantage": advantage_family,
    "weibull_reward": advantage_family,
    "prm_score": advantage_family,
    "policy_loss_gspo": policy_loss_mode("gspo"),
    "policy_loss_gspo_token": policy_loss_mode("gspo-token"),
    "policy_loss_cispo": policy_loss_mode("cispo"),
    "rloo": rloo,
    "reinforce_pp": reinforce_pp,
    "token_logprobs_forward": lambda j: token_logprobs(j),
    "token_logprobs_forward_entropy": lambda j: token_logprobs(j, entropy=True),
    "token_logprobs_backward": lambda j: token_logprobs(j, backward=True),
}


def main():
    jobs = json.load(sys.stdin)
    results = {}
    for job in jobs:
        build = BUILDERS.get(job["op"])
        if build is None:
            continue
        if "repeats" in job:  # heavy rows: a fixed, small number of timed runs
            results[job["name"]] = median_ms(build(job), warmup=job.get("warmup", 1), repeats=job["repeats"], budget=0.0)
        else:
            results[job["name"]] = median_ms(build(job))
    # The process's peak resident memory: a row's own when the process ran that row alone.
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results, "peakRssBytes": peak}, sys.stdout)


if __name__ == "__main__":
    main()
