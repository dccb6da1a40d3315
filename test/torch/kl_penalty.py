# kl_penalty.py: the KL estimators written from ALGORITHMS.md §1.3 in float64 torch, every estimator
# in one run, d(kl)/d(logprobs) by autograd. k3 uses expm1(d) - d rather than verl's exp(d) - d - 1,
# which in float64 loses 4 digits at |d| ~ 1e-6; the clamps are verl's (torch.clamp's gradient).
import numpy as np
import torch

from common import load, save

folder, x, p = load()
outputs = {}
for estimator in ["k1", "k2", "k3", "k3+", "abs"]:
    logprobs = torch.tensor(x["logprobs"].astype(np.float64), requires_grad=True)
    ref = torch.tensor(x["ref"].astype(np.float64))
    if estimator == "k1":
        kl = logprobs - ref
    elif estimator == "k2":
        kl = 0.5 * (logprobs - ref).square()
    elif estimator == "abs":
        kl = (logprobs - ref).abs()
    else:
        d = torch.clamp(ref - logprobs, min=-20.0, max=20.0)
        kl = torch.clamp(torch.expm1(d) - d, min=-10.0, max=10.0)
        if estimator == "k3+":  # straight-through: forward k3, backward k2 (verl kl_penalty)
            backward = 0.5 * (logprobs - ref).square()
            kl = backward - backward.detach() + kl.detach()
    kl.sum().backward()
    outputs["kl_" + estimator] = kl
    outputs["dkl_" + estimator] = logprobs.grad
save(folder, outputs)
