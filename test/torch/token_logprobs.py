# token_logprobs.py: log_softmax().gather() and the entropy -sum p log p in float64, gradients by
# autograd. (Categorical(logits).entropy() is not used: its clamp of -inf logits to the float64 minimum
# overflows in the backward and gives NaN gradients where p = 0.)
import numpy as np
import torch

from common import bf16_to_f64, load, save

folder, x, p = load()
R, V, tau = p["R"], p["V"], p["temperature"]
logits_np = bf16_to_f64(x["logits"]) if x["logits"].dtype == np.uint16 else x["logits"].astype(np.float64)
logits = torch.tensor(logits_np.reshape(R, V), requires_grad=True)
targets = torch.tensor(x["targets"].astype(np.int64))
y = logits / tau
all_logprobs = torch.log_softmax(y, dim=-1)
logprobs = all_logprobs.gather(-1, targets[:, None])[:, 0]
probs = all_logprobs.exp()
safe = torch.where(probs > 0, all_logprobs, torch.zeros_like(all_logprobs))  # 0 * log 0 := 0
entropy = -(probs * safe).sum(-1)
g = torch.tensor(x["dlogprobs"].astype(np.float64))
gh = torch.tensor(x["dentropy"].astype(np.float64))
# Rows whose target logit is -inf have logprob -inf; their gradient is still finite.
finite = torch.isfinite(logprobs)
objective = (torch.where(finite, g * logprobs, torch.zeros_like(g))).sum() + (gh * entropy).sum()
objective.backward()
save(folder, {"logprobs": logprobs, "entropy": entropy, "dlogits": logits.grad})
