# sampling.py: the distribution sample() must draw from, computed in float64 by PyTorch the way
# Hugging Face's logits warpers do it (temperature, then TopK, then TopP on the renormalized
# survivors: sort ascending, drop tokens whose cumulative probability is <= 1 - top_p, keep at
# least one), plus torch.argmax for greedy decoding (first maximum).
import numpy as np
import torch

from common import load, save

folder, x, p = load()
B, V = p["B"], p["V"]
logits = torch.tensor(x["logits"].astype(np.float64).reshape(B, V))
scores = logits / p["temperature"]
if 0 < p["topK"] < V:
    kth = torch.topk(scores, p["topK"], dim=-1).values[..., -1, None]
    scores = scores.masked_fill(scores < kth, float("-inf"))
if p["topP"] < 1:
    sorted_scores, sorted_index = torch.sort(scores, descending=False)
    cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative <= (1 - p["topP"])
    remove[..., -1:] = False
    scores = scores.masked_fill(remove.scatter(1, sorted_index, remove), float("-inf"))
save(folder, {"probs": torch.softmax(scores, dim=-1), "argmax": torch.argmax(logits, dim=-1).double()})
