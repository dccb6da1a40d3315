# gae.py: GAE as TRL's legacy PPOTrainer.compute_advantages computes it (ALGORITHMS.md §1.8), in
# float64 torch: masked values and rewards, the reversed loop over t with nextvalues, returns =
# advantages + values, then masked_whiten (masked mean, masked var × n/(n − 1), rsqrt(var + 1e-8),
# mean kept removed); outputs masked (TRL masks them in the loss).
import numpy as np
import torch

from common import load, save

folder, x, p = load()
R, T = p["R"], p["T"]
mask = torch.tensor(x["mask"].astype(np.float64)).reshape(R, T)
values = torch.tensor(x["values"].astype(np.float64)).reshape(R, T) * mask
rewards = torch.tensor(x["rewards"].astype(np.float64)).reshape(R, T) * mask


def masked_whiten(v, mask):
    n = mask.sum()
    mean = (v * mask).sum() / n
    var = (((v - mean) ** 2) * mask).sum() / n * (n / (n - 1))
    return (v - mean) * torch.rsqrt(var + 1e-8)


outputs = {}
for k, c in enumerate(p["configs"]):
    gamma, lam = c["gamma"], c["lambda"]
    last = torch.zeros(R)
    reversed_advantages = []
    for t in reversed(range(T)):
        next_values = values[:, t + 1] if t < T - 1 else torch.zeros(R)
        delta = rewards[:, t] + gamma * next_values - values[:, t]
        last = delta + gamma * lam * last
        reversed_advantages.append(last)
    advantages = torch.stack(reversed_advantages[::-1], 1)
    returns = advantages + values
    if c["whiten"]:
        advantages = masked_whiten(advantages, mask)
    outputs[f"advantages{k}"] = advantages * mask
    outputs[f"returns{k}"] = returns * mask
save(folder, outputs)
