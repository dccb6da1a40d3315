# attention.py: causal grouped-query attention written out in float64 (torch 1.13 has no
# F.scaled_dot_product_attention): keys repeated per query head as HF's repeat_kv does,
# softmax(q k^T * scale + mask) v with query t at key position S - T + t and keys kvStart[b] <= s <= it;
# a query without keys gives 0. lse = logsumexp of the masked scores. Gradients by autograd.
import numpy as np
import torch

from common import load, save

folder, x, p = load()
B, T, H, KVH, D, S, Smax, scale = p["B"], p["T"], p["H"], p["KVH"], p["D"], p["S"], p["Smax"], p["scale"]
q = torch.tensor(x["q"].astype(np.float64).reshape(B, T, H, D), requires_grad=True)
k = torch.tensor(x["k"].astype(np.float64).reshape(B, Smax, KVH, D), requires_grad=True)
v = torch.tensor(x["v"].astype(np.float64).reshape(B, Smax, KVH, D), requires_grad=True)
kv_start = torch.tensor(x["kvStart"].astype(np.int64))

G = H // KVH
qh = q.transpose(1, 2)                                                    # [B, H, T, D]
kh = k[:, :S].transpose(1, 2).repeat_interleave(G, dim=1)                  # [B, H, S, D] (repeat_kv)
vh = v[:, :S].transpose(1, 2).repeat_interleave(G, dim=1)
scores = qh @ kh.transpose(-1, -2) * scale                                 # [B, H, T, S]
key = torch.arange(S)[None, None, :]
query_position = (S - T + torch.arange(T))[None, :, None]
allowed = (key <= query_position) & (key >= kv_start[:, None, None])       # [B, T, S]
allowed = allowed[:, None]                                                  # [B, 1, T, S]
has_key = allowed.any(-1, keepdim=True)
masked = scores.masked_fill(~allowed, float("-inf"))
safe = torch.where(has_key, masked, torch.zeros_like(masked))              # no NaN for empty rows
probs = torch.softmax(safe, dim=-1) * has_key
out = (probs @ vh).transpose(1, 2)                                          # [B, T, H, D]
lse = torch.where(has_key[..., 0], torch.logsumexp(safe, dim=-1), torch.full_like(scores[..., 0], float("-inf")))
out.backward(torch.tensor(x["dout"].astype(np.float64).reshape(B, T, H, D)))
save(folder, {"out": out, "lse": lse, "dq": q.grad, "dk": k.grad, "dv": v.grad})
