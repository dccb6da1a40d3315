# policy_loss.py: the clipped-surrogate + KL policy loss written from ALGORITHMS.md §1.1-§1.4 in
# float64 torch: torch.clamp/exp/maximum/minimum/where for the loss, autograd for dlogprobs, and
# autograd of the surrogate alone to find the tokens whose gradient a clip zeroed (clipFraction).
# Modes (docs/ALGORITHMS-baselines.md): gspo (sequence ratio, autograd through the row mean),
# gspo-token (sg(s_i)·π/sg(π)), cispo (−sg(clip(ρ))·A·log π).
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

mode = p.get("mode", "clip")
low, high = 1 - clip_low, 1 + clip_high
zeroed_explicit = None
if mode == "clip":
    ratio = torch.exp(torch.clamp(logprobs - old, min=-20.0, max=20.0))
    surrogate = torch.maximum(-advantages * ratio, -advantages * torch.clamp(ratio, low, high))
    if dual is not None:
        surrogate = torch.where(advantages < 0, torch.minimum(surrogate, -advantages * dual), surrogate)
elif mode == "cispo":
    # CISPO (MiniMax-M1): -sg(clip(rho)) * A * log pi
    ratio = torch.exp(torch.clamp(logprobs - old, min=-20.0, max=20.0))
    weight = torch.clamp(ratio, low, high).detach()
    surrogate = -weight * advantages * logprobs
    zeroed_explicit = weight != ratio.detach()
else:
    # GSPO: s_i = exp(mean over the response of (log pi - log pi_old)), clipped per sequence
    lengths_ = mask.sum(dim=1, keepdim=True)
    seq_log = ((logprobs - old) * mask).sum(dim=1, keepdim=True) / lengths_.clamp(min=1)
    if mode == "gspo-token":  # s_{i,t} = sg(s_i) * pi / sg(pi), clamped in the log as verl does
        seq_ratio = torch.exp(torch.clamp(logprobs - logprobs.detach() + seq_log.detach(), min=-20.0, max=20.0))
    else:
        seq_ratio = torch.exp(torch.clamp(seq_log, min=-20.0, max=20.0)).expand_as(logprobs)
    surrogate = torch.maximum(-advantages * seq_ratio, -advantages * torch.clamp(seq_ratio, low, high))
    s_value = seq_ratio.detach()
    active = ((advantages > 0) & (s_value <= high)) | ((advantages < 0) & (s_value >= low))
    zeroed_explicit = ~(active & (seq_log.abs() <= 20).expand_as(logprobs))

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
if zeroed_explicit is None:
    zeroed = (mask > 0) & (advantages != 0) & (surrogate_grad == 0)
else:  # gspo spreads a token's gradient over its row, cispo never zeroes one: count the clipped terms
    zeroed = (mask > 0) & (advantages != 0) & zeroed_explicit
denominator = tokens if tokens > 0 else torch.tensor(1.0)
save(folder, {
    "loss": loss, "pgLoss": pg_loss, "klLoss": kl_loss, "dlogprobs": logprobs.grad,
    "clipFraction": zeroed.sum() / denominator,
    "kl": (kappa * mask).sum() / denominator,
    "approxKl": ((old - logprobs) * mask).sum() / denominator,
})
