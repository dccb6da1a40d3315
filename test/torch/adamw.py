# adamw.py: torch.optim.AdamW itself, in float64, over the given steps (gradients scaled by
# gradScale before each step), and the parameters and moments after each step.
import numpy as np
import torch

from common import load, save

folder, x, p = load()
n, steps = p["n"], p["steps"]
param = torch.nn.Parameter(torch.tensor(x["params"].astype(np.float64)))
optimizer = torch.optim.AdamW([param], lr=p["lr"], betas=(p["beta1"], p["beta2"]), eps=p["eps"],
                              weight_decay=p["weightDecay"])
grads = torch.tensor(x["grads"].astype(np.float64).reshape(steps, n))
outputs = {}
for s in range(steps):
    param.grad = grads[s] * p["gradScale"]
    optimizer.step()
    state = optimizer.state[param]
    outputs[f"params_{s}"] = param.detach().clone()
    outputs[f"m_{s}"] = state["exp_avg"].clone()
    outputs[f"v_{s}"] = state["exp_avg_sq"].clone()
outputs["grad_norm"] = torch.linalg.vector_norm(grads[0])[None]
save(folder, outputs)
