# prl_advantage.py: PRL advantages written from ALGORITHMS.md §4.3 in float64 torch, vectorized:
# S by flip/cumsum/flip (and S[t+1] by a shift), step ends as a boolean [R,T] (stepEnds on t < L,
# plus L − 1; every valid token in token mode), the next step end at or after t by a reversed
# cummin over end indices, then a gather of v = Â − S/η at it; times the mask.
import numpy as np
import torch

from common import load, save

folder, x, p = load()
R, T = p["R"], p["T"]
outcome = torch.tensor(x["outcome"].astype(np.float64))
old = torch.tensor(x["old"].astype(np.float64)).reshape(R, T)
ref = torch.tensor(x["ref"].astype(np.float64)).reshape(R, T)
m = torch.tensor(x["mask"].astype(np.float64)).reshape(R, T)
step_ends = torch.tensor(x["stepEnds"].astype(np.int64)).reshape(R, T) != 0

d = m * (old - ref)
S = torch.flip(torch.cumsum(torch.flip(d, [1]), 1), [1])
S_next = torch.cat([S[:, 1:], torch.zeros(R, 1)], 1)
t = torch.arange(T).expand(R, T)
L = torch.where(m > 0, t + 1, torch.zeros_like(t)).max(1, keepdim=True).values
outputs = {}
for k, c in enumerate(p["configs"]):
    ends = (m > 0) if c["mode"] == "token" else ((step_ends & (t < L)) | (t == L - 1))
    v = outcome[:, None] - (S_next if c["suffixStart"] == "next_step" else S) / c["eta"]
    end_index = torch.where(ends, t, torch.full_like(t, T))
    next_end = torch.flip(torch.cummin(torch.flip(end_index, [1]), 1).values, [1])
    A = torch.gather(v, 1, next_end.clamp(max=T - 1)) * m
    outputs[f"config{k}"] = torch.where(next_end < T, A, torch.zeros_like(A))
save(folder, outputs)
