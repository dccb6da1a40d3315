# policy_loss.py: the clipped-surrogate + KL policy loss written from ALGORITHMS.md §1.1-§1.4 in
# float64 torch: torch.clamp/exp/maximum/minimum/where for the loss, autograd for dlogprobs, and
# autograd of the surrogate alone to find the tokens whose gradient a clip zeroed (clipFraction).
import numpy as np
import torch

from common import load, save

folder, x, p = load()
R, T = p["R"], p["T"]


def tensor(name):
    return torch.tensor(x[name].astype(np.float64).reshape(R, T))


logprobs = tensor("logprobs").requires_grad_(True)
old, advantages, mask = tensor("oldLogprobs"), tensor("advantages"), tensor("mask")
ref = tensor("refLogprobs") if "refLogprobs" in x else None
clip_low, clip_high, dual = p["clipLow"], p["clipHigh"], p.get("dualClip")
beta, scale, estimator = p["klCoef"], p["lossScale"], p["klEstimator"]

ratio = torch.exp(torch.clamp(logprobs - old, min=-20.0, max=20.0))
surrogate = torch.maximum(-advantages * ratio, -advantages * torch.clamp(ratio, 1 - clip_low, 1 + clip_high))
if dual is not None:
    surrogate = torch.where(advantages < 0, torch.minimum(surrogate, -advantages * dual), surrogate)

kappa = torch.zeros_like(logprobs)
if ref is not None:
    if estimator == "k1":
        kappa = logprobs - ref
    elif estimator == "k2":
        kappa = 0.5 * (logprobs - ref).square()
    elif estimator == "abs":
        kappa = (logprobs - ref).abs()
    else:
        d = torch.clamp(ref - logprobs, min=-20.0, max=20.0)
        kappa = torch.clamp(torch.expm1(d) - d, min=-10.0, max=10.0)
        if estimator == "k3+":
            k2 = 0.5 * (logprobs - ref).square()
            kappa = k2 - k2.detach() + kappa.detach()

tokens = mask.sum()
lengths = mask.sum(dim=1, keepdim=True)
N = p.get("rowCount") or R
aggregation = p["aggregation"]
if aggregation == "token-mean":
    total = p.get("tokenCount") or tokens
    weights = mask / total if total > 0 else torch.zeros_like(mask)
elif aggregation == "seq-mean-token-mean":
    weights = torch.where(lengths > 0, mask / (N * lengths.clamp(min=1)), torch.zeros_like(mask))
elif aggregation == "seq-mean-token-sum":
    weights = mask / N
else:
    weights = mask / (N * (p.get("maxLength") or T))

pg_loss = scale * (weights * surrogate).sum()
kl_loss = scale * beta * (weights * kappa).sum()
loss = pg_loss + kl_loss
(surrogate_grad,) = torch.autograd.grad(surrogate.sum(), logprobs, retain_graph=True)
loss.backward()
zeroed = (mask > 0) & (advantages != 0) & (surrogate_grad == 0)
denominator = tokens if tokens > 0 else torch.tensor(1.0)
save(folder, {
    "loss": loss, "pgLoss": pg_loss, "klLoss": kl_loss, "dlogprobs": logprobs.grad,
    "clipFraction": zeroed.sum() / denominator,
    "kl": (kappa * mask).sum() / denominator,
    "approxKl": ((old - logprobs) * mask).sum() / denominator,
})
