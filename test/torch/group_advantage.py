# group_advantage.py: GRPO group advantages written from ALGORITHMS.md §1.5 in float64 torch with
# segment ops: torch.unique(return_inverse) for the groups, index_add_ for sums, scatter_reduce for
# max/min, torch.where for verl's singleton rule (mean 0, std 1) and all-equal groups (A = 0).
import numpy as np
import torch

from common import load, save

folder, x, p = load()
rewards = torch.tensor(x["rewards"].astype(np.float64))
ids = torch.tensor(x["groupIds"].astype(np.int64))
groups, inverse, counts = torch.unique(ids, return_inverse=True, return_counts=True)
G = counts.to(torch.float64)
outputs = {}
for std_kind in ["unbiased", "population"]:
    for scale in ["std", "none"]:
        sums = torch.zeros(len(groups)).index_add_(0, inverse, rewards)
        mean = sums / G
        squares = torch.zeros(len(groups)).index_add_(0, inverse, (rewards - mean[inverse]) ** 2)
        divisor = (G - 1).clamp(min=1) if std_kind == "unbiased" else G
        std = torch.sqrt(squares / divisor)
        mean = torch.where(counts == 1, torch.zeros_like(mean), mean)
        std = torch.where(counts == 1, torch.ones_like(std), std)
        hi = torch.full((len(groups),), -np.inf).scatter_reduce(0, inverse, rewards, reduce="amax")
        lo = torch.full((len(groups),), np.inf).scatter_reduce(0, inverse, rewards, reduce="amin")
        equal = (hi == lo) & (counts > 1)
        centred = rewards - mean[inverse]
        a = centred / (std[inverse] + p["eps"]) if scale == "std" else centred
        outputs[f"{scale}_{std_kind}"] = torch.where(equal[inverse], torch.zeros_like(a), a)
# RLOO (arXiv 2402.14740) as the paper writes it: r_i minus the mean of the other G - 1 rewards.
sums = torch.zeros(len(groups)).index_add_(0, inverse, rewards)
others = (sums[inverse] - rewards) / (G[inverse] - 1).clamp(min=1)
outputs["rloo"] = torch.where(counts[inverse] > 1, rewards - others, torch.full_like(rewards, np.nan))
save(folder, outputs)
