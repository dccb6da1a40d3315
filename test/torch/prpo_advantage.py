# prpo_advantage.py: PRPO advantages written from ALGORITHMS.md §5.4 in float64 torch: groups by
# torch.unique(return_inverse), β from index_add_ means, the empirical prior from masked row sums
# pooled with index_add_ (unbiased, + eps), compat as a mask of each row's last valid token.
import numpy as np
import torch

from common import load, save

folder, x, p = load()
R, T = p["R"], p["T"]
s = torch.tensor(x["scores"].astype(np.float64)).reshape(R, T)
r = torch.tensor(x["rewards"].astype(np.float64))
ids = torch.tensor(x["groupIds"].astype(np.int64))
m = torch.tensor(x["mask"].astype(np.float64)).reshape(R, T)
groups, inv = torch.unique(ids, return_inverse=True)
G = torch.zeros(len(groups)).index_add_(0, inv, torch.ones(R))
beta = r - (torch.zeros(len(groups)).index_add_(0, inv, r) / G)[inv]
t = torch.arange(T).expand(R, T)
L = torch.where(m > 0, t + 1, torch.zeros_like(t)).max(1, keepdim=True).values if T > 0 else torch.zeros(R, 1, dtype=torch.long)
last = t == L - 1
outputs = {}
for k, c in enumerate(p["configs"]):
    compat = c["compat"]
    if c["prior"] == "empirical":
        pool = m * (~last).double() if compat else m
        n = torch.zeros(len(groups)).index_add_(0, inv, pool.sum(1))
        mu = torch.zeros(len(groups)).index_add_(0, inv, (pool * s).sum(1)) / n.clamp(min=1)
        sq = torch.zeros(len(groups)).index_add_(0, inv, (pool * (s - mu[inv][:, None]) ** 2).sum(1))
        std = torch.where(n > 1, torch.sqrt(sq / (n - 1).clamp(min=1)), torch.zeros_like(n))
        mu_row, sigma_row = mu[inv][:, None], (std + c["eps"])[inv][:, None]
    else:
        mu_row, sigma_row = torch.full((R, 1), c["mu0"]), torch.full((R, 1), c["sigma0"])
    z = torch.where(sigma_row > 0, (s - mu_row) / sigma_row.clamp(min=1e-300), torch.zeros_like(s))
    A = z + beta[:, None]
    if compat:
        A = torch.where(last, s + beta[:, None], A)
    outputs[f"config{k}"] = A * m
save(folder, outputs)
