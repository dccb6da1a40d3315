# prm_score.py: PRM solution scores from ALGORITHMS.md §2 in float64 torch segment ops: step rows
# by repeat_interleave, Σ log max(p, 1e-12) by index_add_, min by scatter_reduce, last by a
# gather at offsets[i+1] − 1; rows without steps are NaN.
import numpy as np
import torch

from common import load, save

folder, x, p = load()
scores = torch.tensor(x["scores"].astype(np.float64))
offsets = torch.tensor(x["offsets"].astype(np.int64))
R = len(offsets) - 1
counts = offsets[1:] - offsets[:-1]
rows = torch.repeat_interleave(torch.arange(R), counts)
log_sum = torch.zeros(R).index_add_(0, rows, torch.log(torch.clamp(scores, min=1e-12)))
K = counts.double()
empty = counts == 0
nan = torch.full((R,), np.nan)
outputs = {
    "product": torch.where(empty, nan, torch.exp(log_sum)),
    "geomean": torch.where(empty, nan, torch.exp(log_sum / K.clamp(min=1))),
    "min": torch.where(empty, nan, torch.full((R,), np.inf).scatter_reduce(0, rows, scores, reduce="amin")),
    "last": torch.where(empty, nan, scores[(offsets[1:] - 1).clamp(min=0)] if len(scores) else torch.zeros(R)),
}
save(folder, outputs)
