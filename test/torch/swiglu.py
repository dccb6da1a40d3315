# swiglu.py: Hugging Face LlamaMLP's gate, F.silu(gate) * up, on inp = [gate | up], float64,
# gradients by autograd.
import numpy as np
import torch
import torch.nn.functional as F

from common import load, save

folder, x, p = load()
N, Fd = p["N"], p["F"]
inp = torch.tensor(x["inp"].astype(np.float64).reshape(N, 2 * Fd), requires_grad=True)
gate, up = inp[:, :Fd], inp[:, Fd:]
out = F.silu(gate) * up
out.backward(torch.tensor(x["dout"].astype(np.float64).reshape(N, Fd)))
save(folder, {"out": out, "dinp": inp.grad})
