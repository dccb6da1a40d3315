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


BUILDERS = {
    "kl_k3": kl_k3,
    "policy_loss": policy_loss,
    "group_advantage": group_advantage,
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
        results[job["name"]] = median_ms(build(job))
    json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}, sys.stdout)


main()
