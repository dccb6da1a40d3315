# rope.py: rotary embeddings as Hugging Face's LlamaRotaryEmbedding + apply_rotary_pos_emb compute
# them: inv_freq and the angles in float32 exactly as HF does (1.0 / base ** (arange(0, D, 2) / D),
# freqs = inv_freq @ positions), cos/sin of the fp32 angles, then q*cos + rotate_half(q)*sin.
# Reported twice: the rotation in float64 from HF's fp32 cos/sin (autograd gives the backward),
# and HF's all-fp32 result.
import numpy as np
import torch

from common import load, save

folder, x, p = load()
N, heads, D, theta = p["N"], p["heads"], p["D"], p["theta"]
positions = torch.tensor(x["positions"].astype(np.int64))
inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
freqs = (inv_freq[:, None].float() @ positions[None, :].float()).transpose(0, 1)  # [N, D/2], fp32
emb = torch.cat((freqs, freqs), dim=-1)
cos32, sin32 = emb.cos(), emb.sin()


def rotate_half(t):
    return torch.cat((-t[..., D // 2:], t[..., : D // 2]), dim=-1)


inp = torch.tensor(x["inp"].astype(np.float64).reshape(N, heads, D), requires_grad=True)
cos, sin = cos32.double()[:, None, :], sin32.double()[:, None, :]
out = inp * cos + rotate_half(inp) * sin
out.backward(torch.tensor(x["dout"].astype(np.float64).reshape(N, heads, D)))
q32 = torch.tensor(x["inp"].reshape(N, heads, D))
out32 = q32 * cos32[:, None, :] + rotate_half(q32) * sin32[:, None, :]
save(folder, {"out": out, "dinp": inp.grad, "out_fp32": out32, "inv_freq": inv_freq})
