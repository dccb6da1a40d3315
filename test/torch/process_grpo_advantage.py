# process_grpo_advantage.py: process-supervised GRPO from ALGORITHMS.md §1.6 in float64 torch:
# each step's row by repeat_interleave, its group by unique(return_inverse); pooled mean and
# unbiased std by index_add_; the normalized rewards scattered onto their end tokens with
# index_put_(accumulate=True), then flip/cumsum/flip along the row, times the mask.
import numpy as np
import torch

from common import load, save

folder, x, p = load()
T = p["T"]
rewards = torch.tensor(x["rewards"].astype(np.float64))
ends = torch.tensor(x["ends"].astype(np.int64))
offsets = torch.tensor(x["offsets"].astype(np.int64))
ids = torch.tensor(x["groupIds"].astype(np.int64))
R = len(offsets) - 1
m = torch.tensor(x["mask"].astype(np.float64)).reshape(R, T)
step_row = torch.repeat_interleave(torch.arange(R), offsets[1:] - offsets[:-1])
groups, inv = torch.unique(ids, return_inverse=True)
step_group = inv[step_row]
n = torch.zeros(len(groups)).index_add_(0, step_group, torch.ones(len(rewards)))
mean = torch.zeros(len(groups)).index_add_(0, step_group, rewards) / n.clamp(min=1)
sq = torch.zeros(len(groups)).index_add_(0, step_group, (rewards - mean[step_group]) ** 2)
std = torch.sqrt(sq / (n - 1).clamp(min=1))
outputs = {}
for k, eps in enumerate(p["eps"]):
    ok = (n > 1) & (std > 0)
    normalized = torch.where(ok[step_group], (rewards - mean[step_group]) / (std[step_group] + eps), torch.zeros_like(rewards))
    scattered = torch.zeros(R, T).index_put_((step_row, ends), normalized, accumulate=True)
    outputs[f"eps{k}"] = torch.flip(torch.cumsum(torch.flip(scattered, [1]), 1), [1]) * m
save(folder, outputs)
