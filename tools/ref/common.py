"""Shared helpers for loft's PyTorch reference scripts.

Everything here is written for Debian's python3-torch (1.13) with numpy and no
other dependency: safetensors files are read and written by hand, and each
architecture's forward pass is written out in plain PyTorch following the
semantics of Hugging Face's modeling code (LlamaForCausalLM, Qwen2ForCausalLM,
Qwen3ForCausalLM, GPT2LMHeadModel, BertForMaskedLM).

Conventions used by every model function below:
  * sd is a dict {module parameter name -> tensor}, in the names of the
    *module tree* (for GPT-2 that is "transformer.h.0.attn.c_attn.weight",
    although real GPT-2 checkpoints drop the "transformer." prefix on disk).
  * All arithmetic happens in whatever dtype the tensors have; the scripts
    cast the float32 weights to float64 before calling.
  * lora maps a module path ("model.layers.0.self_attn.q_proj") to a tuple
    (A, B, scale) with A (r, in), B (out, r): PEFT's y = base(x) + scale*B(A(x)).
"""

import hashlib
import json
import math
import os
import struct

# One BLAS thread, set before torch loads (the scripts import this module
# first), so that sums run in one order.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

SCRIPT_VERSION = "1"

# ---------------------------------------------------------------------------
# safetensors

_DT_TO_NP = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "F16": np.float16}


def bf16_bits(t):
    """Rounds a float tensor to bfloat16 (round to nearest even, as torch does)
    and returns the raw 16-bit patterns as a numpy uint16 array."""
    b = t.detach().to(torch.float32).to(torch.bfloat16)
    return b.view(torch.int16).numpy().view(np.uint16)


def write_safetensors(path, tensors, metadata=None, dtype="F32"):
    """Writes {name: tensor} as a safetensors file.

    Layout (https://github.com/huggingface/safetensors): 8-byte little-endian
    header length N, N bytes of JSON header (padded with spaces to a multiple
    of 8), then the raw little-endian data. Tensors are stored in sorted name
    order, back to back. dtype is "F32", "F16" or "BF16" for floating
    tensors (narrowing rounds to nearest even, as torch does)."""
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name]
        if dtype == "BF16":
            raw = bf16_bits(t).astype("<u2").tobytes()
        elif dtype == "F32":
            raw = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        elif dtype == "F16":
            raw = t.detach().to(torch.float16).contiguous().numpy().astype("<f2").tobytes()
        else:
            raise ValueError("unsupported dtype " + dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    """Reads a safetensors file into {name: float32 or int tensor} (BF16 is
    widened to float32 exactly)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        raw = data[base + lo:base + hi]
        if info["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(_DT_TO_NP[info["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(arr.copy()).reshape(info["shape"])
    return out


# ---------------------------------------------------------------------------
# JSON with compact floats


def rounded(x, digits=10):
    """Nested lists of floats with `digits` significant digits (ints untouched)."""
    if isinstance(x, torch.Tensor):
        x = x.tolist()
    if isinstance(x, list):
        return [rounded(v, digits) for v in x]
    if isinstance(x, float):
        return float("%.*g" % (digits, x))
    return x


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


def write_pretty_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def setup_torch():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float64)


# ---------------------------------------------------------------------------
# building blocks


def linear(x, sd, name, lora=None, bias=None):
    """nn.Linear named `name`: x (..., in) @ W^T (W is (out, in)) + b, plus the
    LoRA term if `name` is adapted. bias: None = use it if present."""
    y = x @ sd[name + ".weight"].t()
    b = sd.get(name + ".bias")
    if b is not None and bias is not False:
        y = y + b
    return y + lora_term(x, name, lora)


def conv1d(x, sd, name, lora=None):
    """GPT-2's Conv1D: the weight is stored (in, out), y = x @ W + b."""
    y = x @ sd[name + ".weight"] + sd[name + ".bias"]
    return y + lora_term(x, name, lora)


def lora_term(x, name, lora):
    if lora is None or name not in lora:
        return 0.0
    A, B, scale = lora[name]
    return scale * ((x @ A.t()) @ B.t())


def rms_norm(x, w, eps):
    # HF LlamaRMSNorm: w * x / sqrt(mean(x^2) + eps), over the last axis.
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def layer_norm(x, w, b, eps):
    # torch.nn.LayerNorm: biased variance over the last axis.
    mu = x.mean(-1, keepdim=True)
    var = (x - mu).pow(2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu_tanh(x):
    # HF "gelu_new" (GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def gelu_erf(x):
    # HF "gelu" (BERT): exact x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2))).
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def activation(name):
    """HF ACT2FN for the names these models use: "gelu" is the exact erf
    form, "gelu_new" and "gelu_pytorch_tanh" the tanh one."""
    if name == "gelu":
        return gelu_erf
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return gelu_tanh
    raise ValueError("unsupported activation " + str(name))


def attention(q, k, v, attn_mask, causal):
    """Scaled dot-product attention.
    q (B, H, T, D), k and v (B, KV, T, D) with H a multiple of KV (grouped-query
    attention: query head h reads kv head h // (H/KV), HF's repeat_kv).
    attn_mask (B, T) with 1 for real tokens, 0 for padding: padded *keys* are
    masked out (queries at padded positions are still computed, as HF does).
    Returns (B, T, H*D)."""
    B, H, T, D = q.shape
    KV = k.shape[1]
    if KV != H:
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(D)  # (B, H, T, T)
    allowed = attn_mask[:, None, None, :].bool().expand(B, 1, T, T)
    if causal:
        allowed = allowed & torch.ones(T, T, dtype=torch.bool).tril()[None, None]
    scores = scores.masked_fill(~allowed, float("-inf"))
    p = torch.softmax(scores, dim=-1)
    out = p @ v  # (B, H, T, D)
    return out.transpose(1, 2).reshape(B, T, H * D)


# ---------------------------------------------------------------------------
# RoPE (Hugging Face layout: rotate_half pairs dimension i with i + D/2)


def rope_inv_freq(cfg, head_dim):
    """Inverse frequencies 1/theta^(2i/D), i < D/2, computed in float64, with
    Llama 3 scaling (HF _compute_llama3_parameters) or linear scaling (HF
    _compute_linear_scaling_rope_parameters: inv_freq / factor) when
    rope_scaling says so; rope_scaling's "rope_type" or older "type"."""
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    rs = cfg.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type", rs.get("type"))
        if kind == "linear":
            return inv / rs["factor"]
        if kind != "llama3":
            raise ValueError("unsupported rope_scaling " + str(kind))
        factor = rs["factor"]
        lo, hi = rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wl, high_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        scaled = torch.where(wl > low_wl, inv / factor, inv)
        smooth = (old / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wl < high_wl) & ~(wl > low_wl)
        inv = torch.where(medium, smoothed, scaled)
    return inv


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, inv_freq, positions):
    """x (B, H, T, D); positions (T,). HF: x*cos + rotate_half(x)*sin with
    cos/sin of angle pos*inv_freq[i mod D/2]."""
    ang = positions.to(torch.float64)[:, None] * inv_freq[None, :]  # (T, D/2)
    emb = torch.cat((ang, ang), dim=-1).to(x.dtype)
    return x * emb.cos() + rotate_half(x) * emb.sin()


# ---------------------------------------------------------------------------
# models


def llama_forward(cfg, sd, input_ids, attn_mask, lora=None):
    """LlamaForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM logits (B, T, V).
    Differences by model_type: qwen2 has q/k/v biases (any *.bias present is
    used); qwen3 applies q_norm/k_norm (RMSNorm over head_dim, per head) before
    RoPE and head_dim comes from the config."""
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    C = cfg["hidden_size"]
    D = cfg.get("head_dim") or C // H
    eps = cfg["rms_norm_eps"]
    B, T = input_ids.shape
    inv_freq = rope_inv_freq(cfg, D)
    pos = torch.arange(T)
    x = sd["model.embed_tokens.weight"][input_ids]  # (B, T, C)
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        h = rms_norm(x, sd[p + "input_layernorm.weight"], eps)
        q = linear(h, sd, p + "self_attn.q_proj", lora).view(B, T, H, D)
        k = linear(h, sd, p + "self_attn.k_proj", lora).view(B, T, KV, D)
        v = linear(h, sd, p + "self_attn.v_proj", lora).view(B, T, KV, D)
        if p + "self_attn.q_norm.weight" in sd:
            q = rms_norm(q, sd[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, sd[p + "self_attn.k_norm.weight"], eps)
        q = apply_rope(q.transpose(1, 2), inv_freq, pos)
        k = apply_rope(k.transpose(1, 2), inv_freq, pos)
        v = v.transpose(1, 2)
        a = attention(q, k, v, attn_mask, causal=True)
        x = x + linear(a, sd, p + "self_attn.o_proj", lora)
        h = rms_norm(x, sd[p + "post_attention_layernorm.weight"], eps)
        g = linear(h, sd, p + "mlp.gate_proj", lora)
        u = linear(h, sd, p + "mlp.up_proj", lora)
        x = x + linear(torch.nn.functional.silu(g) * u, sd, p + "mlp.down_proj", lora)
    x = rms_norm(x, sd["model.norm.weight"], eps)
    head = sd.get("lm_head.weight", sd["model.embed_tokens.weight"])
    return x @ head.t()


def gpt2_forward(cfg, sd, input_ids, attn_mask, lora=None):
    """GPT2LMHeadModel logits (B, T, V). sd uses module names
    ("transformer.h.0.attn.c_attn.weight"); Conv1D weights are (in, out); the
    MLP's activation is activation_function's (gelu_new by default)."""
    C = cfg["n_embd"]
    H = cfg["n_head"]
    eps = cfg["layer_norm_epsilon"]
    act = activation(cfg.get("activation_function", "gelu_new"))
    B, T = input_ids.shape
    tp = "transformer."
    x = sd[tp + "wte.weight"][input_ids] + sd[tp + "wpe.weight"][torch.arange(T)][None]
    for i in range(cfg["n_layer"]):
        p = tp + "h.%d." % i
        h = layer_norm(x, sd[p + "ln_1.weight"], sd[p + "ln_1.bias"], eps)
        qkv = conv1d(h, sd, p + "attn.c_attn", lora)  # (B, T, 3C): q | k | v
        q, k, v = qkv.split(C, dim=-1)
        q = q.view(B, T, H, C // H).transpose(1, 2)
        k = k.view(B, T, H, C // H).transpose(1, 2)
        v = v.view(B, T, H, C // H).transpose(1, 2)
        a = attention(q, k, v, attn_mask, causal=True)
        x = x + conv1d(a, sd, p + "attn.c_proj", lora)
        h = layer_norm(x, sd[p + "ln_2.weight"], sd[p + "ln_2.bias"], eps)
        m = act(conv1d(h, sd, p + "mlp.c_fc", lora))
        x = x + conv1d(m, sd, p + "mlp.c_proj", lora)
    x = layer_norm(x, sd[tp + "ln_f.weight"], sd[tp + "ln_f.bias"], eps)
    return x @ sd[tp + "wte.weight"].t()  # lm_head tied to wte


def bert_mlm_forward(cfg, sd, input_ids, attn_mask, token_type_ids):
    """BertForMaskedLM prediction scores (B, T, V): post-norm encoder, GELU
    (hidden_act's, exact by default), and the MLM head (transform dense + the
    same GELU + LayerNorm, decoder tied to the word embeddings, plus
    cls.predictions.bias)."""
    C = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    eps = cfg["layer_norm_eps"]
    act = activation(cfg.get("hidden_act", "gelu"))
    B, T = input_ids.shape
    e = "bert.embeddings."
    x = (sd[e + "word_embeddings.weight"][input_ids]
         + sd[e + "position_embeddings.weight"][torch.arange(T)][None]
         + sd[e + "token_type_embeddings.weight"][token_type_ids])
    x = layer_norm(x, sd[e + "LayerNorm.weight"], sd[e + "LayerNorm.bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        p = "bert.encoder.layer.%d." % i
        q = linear(x, sd, p + "attention.self.query").view(B, T, H, C // H).transpose(1, 2)
        k = linear(x, sd, p + "attention.self.key").view(B, T, H, C // H).transpose(1, 2)
        v = linear(x, sd, p + "attention.self.value").view(B, T, H, C // H).transpose(1, 2)
        a = attention(q, k, v, attn_mask, causal=False)
        a = linear(a, sd, p + "attention.output.dense")
        x = layer_norm(a + x, sd[p + "attention.output.LayerNorm.weight"],
                       sd[p + "attention.output.LayerNorm.bias"], eps)
        m = act(linear(x, sd, p + "intermediate.dense"))
        m = linear(m, sd, p + "output.dense")
        x = layer_norm(m + x, sd[p + "output.LayerNorm.weight"], sd[p + "output.LayerNorm.bias"], eps)
    c = "cls.predictions."
    h = act(linear(x, sd, c + "transform.dense"))
    h = layer_norm(h, sd[c + "transform.LayerNorm.weight"], sd[c + "transform.LayerNorm.bias"], eps)
    return h @ sd[e + "word_embeddings.weight"].t() + sd[c + "bias"]


def forward(cfg, sd, input_ids, attn_mask, token_type_ids=None, lora=None):
    mt = cfg["model_type"]
    if mt in ("llama", "qwen2", "qwen3"):
        return llama_forward(cfg, sd, input_ids, attn_mask, lora)
    if mt == "gpt2":
        return gpt2_forward(cfg, sd, input_ids, attn_mask, lora)
    if mt == "bert":
        if lora:
            raise ValueError("no LoRA on BERT here")
        return bert_mlm_forward(cfg, sd, input_ids, attn_mask, token_type_ids)
    raise ValueError("unknown model_type " + mt)


# ---------------------------------------------------------------------------
# loading


def load_model(folder):
    """Reads config.json + model.safetensors from an HF folder; returns
    (cfg, sd) with sd in float64 and in module names (GPT-2 gets its
    "transformer." prefix back; buffers h.N.attn.bias/masked_bias dropped)."""
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    raw = read_safetensors(os.path.join(folder, "model.safetensors"))
    sd = {}
    for k, v in raw.items():
        if cfg["model_type"] == "gpt2":
            if k.endswith(".attn.bias") or k.endswith(".attn.masked_bias"):
                continue
            if not k.startswith("transformer."):
                k = "transformer." + k
        sd[k] = v.to(torch.float64)
    return cfg, sd


def causal_lm_loss(logits, labels):
    """HF causal-LM loss: logits[:, :-1] predict labels[:, 1:]; -100 ignored;
    mean over the counted tokens. Returns (loss, count)."""
    lg = logits[:, :-1].reshape(-1, logits.shape[-1])
    lb = labels[:, 1:].reshape(-1)
    keep = lb != -100
    lp = torch.log_softmax(lg[keep], dim=-1)
    nll = -lp.gather(1, lb[keep][:, None]).squeeze(1)
    return nll.sum() / keep.sum(), int(keep.sum())
