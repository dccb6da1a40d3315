# entropy_segments.py: PRPO entropy segmentation from ALGORITHMS.md §5.2 with torch: anchors by a
# stable descending sort of the valid tokens' entropies (ties → lower index), searchsorted for the
# ids; the compat filter is the loop of the reference code (srpocode verl2 naive2.py
# entropy_segmentation) run as written, Python's reassignment of the loop variable included.
import numpy as np
import torch

from common import load, save

folder, x, p = load()
R, T = p["R"], p["T"]
H = torch.tensor(x["entropy"].astype(np.float64)).reshape(R, T)
m = torch.tensor(x["mask"].astype(np.float64)).reshape(R, T)


def reference_filter(topk_id, min_gap):
    topk_idx = []
    for i in range(len(topk_id) - 1):
        j = i + 1
        if topk_id[j] - topk_id[i] > min_gap:
            topk_idx.append(topk_id[i])
        else:
            while j < len(topk_id) and topk_id[j] - topk_id[i] <= min_gap:
                j += 1
            i = j
            if i < len(topk_id):
                topk_idx.append(topk_id[i])
    return topk_idx


outputs = {}
for k, c in enumerate(p["configs"]):
    K, gap = c["maxBranches"], c["minGap"]
    out = torch.full((R, T), -1.0)
    for row in range(R):
        valid = torch.nonzero(m[row] > 0).flatten()
        cuts = []
        if len(valid) >= K + 1:
            order = torch.sort(-H[row, valid], stable=True).indices
            anchors = sorted(valid[order[:K]].tolist())
            kept = reference_filter(anchors, gap) if c["compat"] else anchors
            last = 0
            for a in kept:
                if a - last >= gap:
                    cuts.append(a)
                    last = a
        ids = torch.searchsorted(torch.tensor(cuts, dtype=torch.long), valid, right=True)
        out[row, valid] = ids.double()
    outputs[f"config{k}"] = out
save(folder, outputs)
