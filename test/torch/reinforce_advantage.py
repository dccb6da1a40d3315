# reinforce_advantage.py: REINFORCE++ / REINFORCE++-baseline as OpenRLHF's experience maker computes
# them (docs/ALGORITHMS-baselines.md §B2), in float64 torch: rewards centred on the group mean
# (baseline), compute_reward (−β·k1 KL per token, the outcome added at the last valid token),
# get_cumulative_returns (reversed loop, γ), then the batch normalization
# (mean, population var clamped at 1e-8, rsqrt) over valid tokens.
import numpy as np
import torch

from common import load, save

folder, x, p = load()
R, T = p["R"], p["T"]
mask = torch.tensor(x["mask"].astype(np.float64)).reshape(R, T)
old = torch.tensor(x["oldLogprobs"].astype(np.float64)).reshape(R, T)
ref = torch.tensor(x["refLogprobs"].astype(np.float64)).reshape(R, T)
ids = torch.tensor(x["groupIds"].astype(np.int64))
outputs = {}
for k, c in enumerate(p["configs"]):
    rewards = torch.tensor(x["rewards"].astype(np.float64))
    if c["baseline"]:
        groups, inverse, counts = torch.unique(ids, return_inverse=True, return_counts=True)
        mean = torch.zeros(len(groups)).index_add_(0, inverse, rewards) / counts
        rewards = torch.where(counts[inverse] > 1, rewards - mean[inverse], rewards)
    token_rewards = -c["klCoef"] * (old - ref) * mask
    lengths = (mask * torch.arange(1, T + 1)).amax(dim=1).long()
    rows = torch.nonzero(lengths > 0).flatten()
    token_rewards[rows, lengths[rows] - 1] += rewards[rows]
    returns = torch.zeros(R, T)
    running = torch.zeros(R)
    for t in reversed(range(T)):
        running = token_rewards[:, t] + c["gamma"] * running
        returns[:, t] = running
    returns = returns * mask
    n = mask.sum()
    mean = (returns * mask).sum() / n
    var = (((returns - mean) ** 2) * mask).sum() / n
    advantages = (returns - mean) * var.clamp(min=1e-8).rsqrt() * mask
    outputs[f"advantages{k}"] = advantages
    outputs[f"returns{k}"] = returns
save(folder, outputs)
