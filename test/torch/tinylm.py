# tinylm.py: an independent float64 PyTorch implementation of the Hugging Face Llama / Qwen2 / Qwen3
# decoder (modeling_llama.py semantics: RMSNorm, rotate_half RoPE, repeat_kv GQA, SwiGLU, tied or
# untied head; Qwen3's per-head q_norm / k_norm before RoPE; rope_scaling linear, dynamic and llama3
# as transformers' modeling_rope_utils computes inv_freq), reading a checkpoint folder (config.json + model.safetensors) with its own safetensors
# parser. Given tokens, per-row starts (left padding) and an upstream gradient for the logits, it
# writes the logits and the gradient of every parameter by autograd.
import json
import os
import struct

import numpy as np
import torch

from common import load, save

folder, x, p = load()
ckpt = p["checkpoint"]
config = json.load(open(os.path.join(ckpt, "config.json")))


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        data = raw[8 + n + begin : 8 + n + end]
        if entry["dtype"] == "F32":
            array = np.frombuffer(data, dtype=np.float32).astype(np.float64)
        elif entry["dtype"] == "BF16":
            array = (np.frombuffer(data, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        else:
            raise ValueError(entry["dtype"])
        out[name] = torch.tensor(array.reshape(entry["shape"]), requires_grad=True)
    return out


W = read_safetensors(os.path.join(ckpt, "model.safetensors"))
C = config["hidden_size"]
H = config["num_attention_heads"]
KVH = config["num_key_value_heads"]
D = config.get("head_dim") or C // H
eps = config["rms_norm_eps"]
theta = config["rope_theta"]
L = config["num_hidden_layers"]
V = config["vocab_size"]
qwen = config["model_type"] == "qwen2"
qk_norm = config["model_type"] == "qwen3"
qkv_bias = qwen or config.get("attention_bias", False)
o_bias = (not qwen) and config.get("attention_bias", False)

B, T = p["B"], p["T"]
tokens = torch.tensor(x["tokens"].astype(np.int64).reshape(B, T))
start = torch.tensor(x["start"].astype(np.int64))
dlogits = torch.tensor(x["dlogits"].astype(np.float64).reshape(B, T, V))


def rmsnorm(h, w):
    return w * (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(t):
    half = t.shape[-1] // 2
    return torch.cat((-t[..., half:], t[..., :half]), dim=-1)


def linear(h, name, bias):
    y = h @ W[name + ".weight"].T
    return y + W[name + ".bias"] if bias else y


positions = torch.clamp(torch.arange(T)[None, :] - start[:, None], min=0)  # [B, T]
# HF computes inv_freq and the angles in float32, then casts cos/sin to the compute dtype.
def plain_inv_freq(base):
    return 1.0 / (base ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))


inv_freq = plain_inv_freq(theta)
scaling = config.get("rope_scaling") or {}
rope_type = scaling.get("rope_type", scaling.get("type", "default"))
if rope_type == "linear":
    inv_freq = inv_freq / scaling["factor"]
elif rope_type == "dynamic":
    # NTK-aware: the base grows once the sequence outgrows max_position_embeddings.
    max_pos = config["max_position_embeddings"]
    seq_len = int(torch.clamp(torch.arange(T)[None, :] - start[:, None], min=0).max()) + 1
    if seq_len > max_pos:
        factor = scaling["factor"]
        inv_freq = plain_inv_freq(theta * ((factor * seq_len / max_pos) - (factor - 1)) ** (D / (D - 2)))
elif rope_type == "llama3":
    factor = scaling["factor"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old = scaling["original_max_position_embeddings"]
    wavelen = 2 * torch.pi / inv_freq
    scaled = torch.where(wavelen > old / low, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= old / high) & (wavelen <= old / low)
    inv_freq = torch.where(medium, smoothed, scaled)
elif rope_type != "default":
    raise ValueError(rope_type)
freqs = positions.float()[..., None] * inv_freq[None, None, :]
emb = torch.cat((freqs, freqs), dim=-1)
cos, sin = emb.cos().double()[:, None], emb.sin().double()[:, None]  # [B, 1, T, D]

key_pos = torch.arange(T)
valid = (key_pos[None, None, :] <= key_pos[None, :, None]) & (key_pos[None, None, :] >= start[:, None, None])  # [B, T, S]
has_key = valid.any(-1)  # [B, T]

h = W["model.embed_tokens.weight"][tokens]
for l in range(L):
    pre = f"model.layers.{l}"
    a = rmsnorm(h, W[pre + ".input_layernorm.weight"])
    q = linear(a, pre + ".self_attn.q_proj", qkv_bias).view(B, T, H, D)
    k = linear(a, pre + ".self_attn.k_proj", qkv_bias).view(B, T, KVH, D)
    if qk_norm:
        q = rmsnorm(q, W[pre + ".self_attn.q_norm.weight"])
        k = rmsnorm(k, W[pre + ".self_attn.k_norm.weight"])
    q, k = q.transpose(1, 2), k.transpose(1, 2)
    v = linear(a, pre + ".self_attn.v_proj", qkv_bias).view(B, T, KVH, D).transpose(1, 2)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    k = k.repeat_interleave(H // KVH, dim=1)
    v = v.repeat_interleave(H // KVH, dim=1)
    scores = (q @ k.transpose(-1, -2)) / (D ** 0.5)
    scores = scores.masked_fill(~valid[:, None], -1e300)
    attn = torch.softmax(scores, dim=-1) @ v  # [B, H, T, D]
    attn = torch.where(has_key[:, None, :, None], attn, torch.zeros_like(attn))  # queries without keys: 0
    h = h + linear(attn.transpose(1, 2).reshape(B, T, H * D), pre + ".self_attn.o_proj", o_bias)
    m = rmsnorm(h, W[pre + ".post_attention_layernorm.weight"])
    gate = m @ W[pre + ".mlp.gate_proj.weight"].T
    up = m @ W[pre + ".mlp.up_proj.weight"].T
    h = h + (torch.nn.functional.silu(gate) * up) @ W[pre + ".mlp.down_proj.weight"].T
h = rmsnorm(h, W["model.norm.weight"])
head = W["model.embed_tokens.weight"] if config.get("tie_word_embeddings") else W["lm_head.weight"]
logits = h @ head.T
(logits * dlogits).sum().backward()

outputs = {"logits": logits}
for name, tensor in W.items():
    outputs["grad:" + name] = tensor.grad if tensor.grad is not None else torch.zeros_like(tensor)
save(folder, outputs)
