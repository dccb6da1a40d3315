# matmul.py: torch.nn.functional.linear (+ residual) in float64, gradients by autograd, for the
# matmul / matmulBackward side-by-side check.
import numpy as np
import torch
import torch.nn.functional as F

from common import load, save

folder, x, p = load()
N, C, OC = p["N"], p["C"], p["OC"]
inp = torch.tensor(x["inp"].astype(np.float64).reshape(N, C), requires_grad=True)
weight = torch.tensor(x["weight"].astype(np.float64).reshape(OC, C), requires_grad=True)
bias = torch.tensor(x["bias"].astype(np.float64), requires_grad=True)
residual = torch.tensor(x["residual"].astype(np.float64).reshape(N, OC))
out = F.linear(inp, weight, bias) + residual
out.backward(torch.tensor(x["dout"].astype(np.float64).reshape(N, OC)))
save(folder, {"out": out, "dinp": inp.grad, "dweight": weight.grad, "dbias": bias.grad})
