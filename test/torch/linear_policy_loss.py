# linear_policy_loss.py: the one-pass lm_head + clipped policy loss as PyTorch computes it unfused, in
# float64: logits = h[rows] @ W.T, ℓ = log_softmax(logits / tau).gather(targets),
# ρ = exp(clamp(ℓ − ℓold, ±20)), ψ = max(−Aρ, −A·clamp(ρ, 1−εlow, 1+εhigh)), loss = Σ_i Σ_t m ψ / (R·L_i)
# (seq-mean-token-mean); gradients into h and W by autograd.
import numpy as np
import torch

from common import load, save

folder, x, p = load()
M, R, T, C, V, tau = p["M"], p["R"], p["T"], p["C"], p["V"], p["temperature"]
low, high = 1 - p["clipLow"], 1 + p["clipHigh"]
hidden = torch.tensor(x["hidden"].astype(np.float64).reshape(M, C), requires_grad=True)
weight = torch.tensor(x["weight"].astype(np.float64).reshape(V, C), requires_grad=True)
targets = torch.tensor(x["targets"].astype(np.int64))
rows = torch.tensor(x["rows"].astype(np.int64))
old = torch.tensor(x["old"].astype(np.float64)).reshape(R, T)
adv = torch.tensor(x["advantages"].astype(np.float64)).reshape(R, T)
mask = torch.tensor(x["mask"].astype(np.float64)).reshape(R, T)
logits = hidden[rows] @ weight.T
logprobs = torch.log_softmax(logits / tau, dim=-1).gather(-1, targets[:, None])[:, 0].reshape(R, T)
ratio = torch.exp(torch.clamp(logprobs - old, -20.0, 20.0))
psi = torch.maximum(-adv * ratio, -adv * torch.clamp(ratio, low, high))
lengths = mask.sum(-1)
weights = torch.where(lengths > 0, 1.0 / (R * lengths.clamp(min=1)), torch.zeros_like(lengths))
loss = (mask * psi * weights[:, None]).sum()
loss.backward()
save(folder, {"loss": loss.reshape(1), "logprobs": logprobs.reshape(-1), "dhidden": hidden.grad, "dweight": weight.grad})
