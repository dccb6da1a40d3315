# linear_token_logprobs.py: the fused projection + token log-probs as PyTorch computes it unfused, in
# float64: logits = h[rows] @ W.T, log_softmax(logits / tau).gather(targets), the entropy
# -sum p log p; gradients of sum g*logprob + gH*entropy by autograd into h and W.
import numpy as np
import torch

from common import load, save

folder, x, p = load()
M, N, C, V, tau = p["M"], p["N"], p["C"], p["V"], p["temperature"]
hidden = torch.tensor(x["hidden"].astype(np.float64).reshape(M, C), requires_grad=True)
weight = torch.tensor(x["weight"].astype(np.float64).reshape(V, C), requires_grad=True)
targets = torch.tensor(x["targets"].astype(np.int64))
rows = torch.tensor(x["rows"].astype(np.int64))
logits = hidden[rows] @ weight.T
all_logprobs = torch.log_softmax(logits / tau, dim=-1)
logprobs = all_logprobs.gather(-1, targets[:, None])[:, 0]
entropy = -(all_logprobs.exp() * all_logprobs).sum(-1)
g = torch.tensor(x["dlogprobs"].astype(np.float64))
gh = torch.tensor(x["dentropy"].astype(np.float64))
((g * logprobs).sum() + (gh * entropy).sum()).backward()
save(folder, {"logprobs": logprobs, "entropy": entropy, "dhidden": hidden.grad, "dweight": weight.grad})
