# common.py: I/O for the PyTorch side-by-side checks (see harness.ts). Inputs arrive as raw arrays
# plus inputs.json; every output is written as float64 with outputs.json naming the files.
import json
import os
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)


def load():
    folder = sys.argv[1]
    with open(os.path.join(folder, "inputs.json")) as f:
        manifest = json.load(f)
    arrays = {}
    for name, entry in manifest["inputs"].items():
        data = np.fromfile(os.path.join(folder, entry["file"]), dtype=entry["dtype"])
        arrays[name] = data
    return folder, arrays, manifest["params"]


def bf16_to_f64(bits):
    """Raw bfloat16 bits (uint16) -> exact float64 values."""
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def save(folder, outputs):
    names = {}
    for name, value in outputs.items():
        array = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)
        array = np.ascontiguousarray(array, dtype=np.float64).reshape(-1)
        file = name + ".out"
        array.tofile(os.path.join(folder, file))
        names[name] = file
    with open(os.path.join(folder, "outputs.json"), "w") as f:
        json.dump(names, f)
