# weibull_reward.py: PSPO* rewards written from ALGORITHMS.md §3.2 / §2 in float64 torch with
# segment ops (repeat_interleave row ids, index_add_ of logs, scatter_reduce amin, a gather for the
# last step), h in its direct form and ff with torch.where/sigmoid; every shaping × aggregate.
import numpy as np
import torch

from common import load, save

folder, x, p = load()
scores = torch.tensor(x["scores"].astype(np.float64))
offsets = torch.tensor(x["offsets"].astype(np.int64))
R = len(offsets) - 1
counts = offsets[1:] - offsets[:-1]
K = counts.to(torch.float64)
rows = torch.repeat_interleave(torch.arange(R), counts)
k, lam, C, min_steps = p["k"], p["lambda"], p["peak"], p["minSteps"]

log_sum = torch.zeros(R).index_add_(0, rows, torch.log(torch.clamp(scores, min=1e-12)))
safe_k = K.clamp(min=1)
aggregates = {
    "geomean": torch.exp(log_sum / safe_k),
    "product": torch.exp(log_sum),
    "min": torch.full((R,), np.inf).scatter_reduce(0, rows, scores, reduce="amin"),
    "last": scores[(offsets[1:] - 1).clamp(min=0)] if len(scores) else torch.zeros(R),
}
h = C * (k / lam) * (safe_k / lam) ** (k - 1) * torch.exp(-((safe_k / lam) ** k))
valid = (counts > 0) & (counts >= min_steps)
outputs = {}
for name, s in aggregates.items():
    s = torch.where(valid, s, torch.zeros_like(s))
    g = torch.where(s > 0.88433, torch.full_like(s, 0.1),
                    torch.where((s > 0) & (s < 0.2), torch.full_like(s, -0.1), 0.1 * (s - 0.21159) / 0.88433))
    b = s * np.exp(2.0)
    tau = torch.sigmoid(10 * (K - 4))
    ff = torch.where(K <= 4, s * torch.exp(0.5 * K), b * (1 - tau) + tau * b * torch.exp(g * (K - 4)))
    for shaping, value in [("weibull", s * h), ("pspo_ff", s * ff), ("linear", s)]:
        outputs[f"{shaping}_{name}"] = torch.where(valid, value, torch.zeros_like(value))
save(folder, outputs)
