# embedding.py: F.embedding in float64 and the table gradient by autograd.
import numpy as np
import torch
import torch.nn.functional as F

from common import load, save

folder, x, p = load()
N, C, V = p["N"], p["C"], p["V"]
table = torch.tensor(x["table"].astype(np.float64).reshape(V, C), requires_grad=True)
out = F.embedding(torch.tensor(x["tokens"].astype(np.int64)), table)
out.backward(torch.tensor(x["dout"].astype(np.float64).reshape(N, C)))
save(folder, {"out": out, "dtable": table.grad})
