# rmsnorm.py: Hugging Face LlamaRMSNorm's formula written out in float64
# (weight * x * rsqrt(mean(x^2) + eps)), gradients by autograd.
import numpy as np
import torch

from common import load, save

folder, x, p = load()
N, C, eps = p["N"], p["C"], p["eps"]
inp = torch.tensor(x["inp"].astype(np.float64).reshape(N, C), requires_grad=True)
weight = torch.tensor(x["weight"].astype(np.float64), requires_grad=True)
variance = inp.pow(2).mean(-1, keepdim=True)
rstd = torch.rsqrt(variance + eps)
out = weight * (inp * rstd)
out.backward(torch.tensor(x["dout"].astype(np.float64).reshape(N, C)))
save(folder, {"out": out, "rstd": rstd[:, 0], "dinp": inp.grad, "dweight": weight.grad})
