#!/usr/bin/python3
"""Generates loft's model reference fixtures under testdata/ref/.

  * <arch>-tiny/ for llama, llama3 (rope_scaling + tied), qwen2, qwen3, gpt2,
    bert: config.json, model.safetensors (F32, Hugging Face tensor names) and
    expected.json (inputs and float64 logits);
  * llama-tiny-bf16/: llama-tiny's weights rounded to BF16;
  * variants/: logits of tiny models under config options that change the
    math (linear RoPE scaling, GPT-2's exact GELU, BERT's tanh GELU);
  * stories260k/: logits of the real stories260K model for one sequence, and
    its greedy continuation, checked against the shared expected text.

Run from the repository root: /usr/bin/python3 tools/ref/gen_models.py
See tools/ref/README.md for every file's exact contents.
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # keep tools/ref free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (first: it sets one BLAS thread before torch loads)
import torch  # noqa: E402

OUT = "testdata/ref"
SHARED = os.environ.get("LOFT_SHARED", "../shared")
STORIES = os.path.join(SHARED, "models", "stories260K")

EMB_STD = 0.2  # embeddings
W_STD = 0.1  # matrices
B_STD = 0.1  # biases; norm weights are 1 + 0.1*N(0,1)


# ---------------------------------------------------------------------------
# configurations (real Hugging Face field names)

LLAMA = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 128,
    "max_position_embeddings": 256,
    "rms_norm_eps": 1e-05,
    "rope_theta": 10000.0,
    "rope_scaling": None,
    "hidden_act": "silu",
    "attention_bias": False,
    "mlp_bias": False,
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "initializer_range": 0.02,
    "torch_dtype": "float32",
}

LLAMA3 = dict(LLAMA)
LLAMA3.update({
    "num_key_value_heads": 1,
    "rope_scaling": {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 64,
    },
    "tie_word_embeddings": True,
    "eos_token_id": [2, 3],
})

QWEN2 = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 64,
    "intermediate_size": 80,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 128,
    "max_position_embeddings": 256,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "hidden_act": "silu",
    "tie_word_embeddings": True,
    "use_sliding_window": False,
    "sliding_window": 256,
    "max_window_layers": 2,
    "attention_dropout": 0.0,
    "bos_token_id": 126,
    "eos_token_id": 127,
    "initializer_range": 0.02,
    "torch_dtype": "float32",
}

QWEN3 = {
    "architectures": ["Qwen3ForCausalLM"],
    "model_type": "qwen3",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "vocab_size": 128,
    "max_position_embeddings": 256,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "rope_scaling": None,
    "hidden_act": "silu",
    "attention_bias": False,
    "tie_word_embeddings": False,
    "use_sliding_window": False,
    "sliding_window": None,
    "max_window_layers": 2,
    "attention_dropout": 0.0,
    "bos_token_id": 126,
    "eos_token_id": 127,
    "initializer_range": 0.02,
    "torch_dtype": "float32",
}

GPT2 = {
    "architectures": ["GPT2LMHeadModel"],
    "model_type": "gpt2",
    "n_embd": 48,
    "n_layer": 2,
    "n_head": 4,
    "n_positions": 32,
    "n_ctx": 32,
    "n_inner": None,
    "vocab_size": 128,
    "layer_norm_epsilon": 1e-05,
    "activation_function": "gelu_new",
    "scale_attn_weights": True,
    "attn_pdrop": 0.1,
    "embd_pdrop": 0.1,
    "resid_pdrop": 0.1,
    "bos_token_id": 127,
    "eos_token_id": 127,
    "initializer_range": 0.02,
}

BERT = {
    "architectures": ["BertForMaskedLM"],
    "model_type": "bert",
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "hidden_act": "gelu",
    "max_position_embeddings": 32,
    "type_vocab_size": 2,
    "vocab_size": 128,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "initializer_range": 0.02,
    "torch_dtype": "float32",
}


# ---------------------------------------------------------------------------
# parameter shapes, in HF checkpoint names


def llama_shapes(cfg):
    C, V, I = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    H = cfg["num_attention_heads"]
    KV = cfg["num_key_value_heads"]
    D = cfg.get("head_dim") or C // H
    bias = cfg["model_type"] == "qwen2"
    s = {"model.embed_tokens.weight": (V, C), "model.norm.weight": (C,)}
    if not cfg["tie_word_embeddings"]:
        s["lm_head.weight"] = (V, C)
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        s[p + "input_layernorm.weight"] = (C,)
        s[p + "post_attention_layernorm.weight"] = (C,)
        s[p + "self_attn.q_proj.weight"] = (H * D, C)
        s[p + "self_attn.k_proj.weight"] = (KV * D, C)
        s[p + "self_attn.v_proj.weight"] = (KV * D, C)
        s[p + "self_attn.o_proj.weight"] = (C, H * D)
        if bias:
            s[p + "self_attn.q_proj.bias"] = (H * D,)
            s[p + "self_attn.k_proj.bias"] = (KV * D,)
            s[p + "self_attn.v_proj.bias"] = (KV * D,)
        if cfg["model_type"] == "qwen3":
            s[p + "self_attn.q_norm.weight"] = (D,)
            s[p + "self_attn.k_norm.weight"] = (D,)
        s[p + "mlp.gate_proj.weight"] = (I, C)
        s[p + "mlp.up_proj.weight"] = (I, C)
        s[p + "mlp.down_proj.weight"] = (C, I)
    return s


def gpt2_shapes(cfg):
    C, V, P = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    I = cfg["n_inner"] or 4 * C
    s = {"wte.weight": (V, C), "wpe.weight": (P, C), "ln_f.weight": (C,), "ln_f.bias": (C,)}
    for i in range(cfg["n_layer"]):
        p = "h.%d." % i
        for ln in ("ln_1", "ln_2"):
            s[p + ln + ".weight"] = (C,)
            s[p + ln + ".bias"] = (C,)
        # Conv1D: weight (in, out)
        s[p + "attn.c_attn.weight"] = (C, 3 * C)
        s[p + "attn.c_attn.bias"] = (3 * C,)
        s[p + "attn.c_proj.weight"] = (C, C)
        s[p + "attn.c_proj.bias"] = (C,)
        s[p + "mlp.c_fc.weight"] = (C, I)
        s[p + "mlp.c_fc.bias"] = (I,)
        s[p + "mlp.c_proj.weight"] = (I, C)
        s[p + "mlp.c_proj.bias"] = (C,)
    return s


def bert_shapes(cfg):
    C, V, I = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    e = "bert.embeddings."
    s = {
        e + "word_embeddings.weight": (V, C),
        e + "position_embeddings.weight": (cfg["max_position_embeddings"], C),
        e + "token_type_embeddings.weight": (cfg["type_vocab_size"], C),
        e + "LayerNorm.weight": (C,),
        e + "LayerNorm.bias": (C,),
        "cls.predictions.bias": (V,),
        "cls.predictions.transform.dense.weight": (C, C),
        "cls.predictions.transform.dense.bias": (C,),
        "cls.predictions.transform.LayerNorm.weight": (C,),
        "cls.predictions.transform.LayerNorm.bias": (C,),
    }
    for i in range(cfg["num_hidden_layers"]):
        p = "bert.encoder.layer.%d." % i
        for n in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            s[p + n + ".weight"] = (C, C)
            s[p + n + ".bias"] = (C,)
        s[p + "attention.output.LayerNorm.weight"] = (C,)
        s[p + "attention.output.LayerNorm.bias"] = (C,)
        s[p + "intermediate.dense.weight"] = (I, C)
        s[p + "intermediate.dense.bias"] = (I,)
        s[p + "output.dense.weight"] = (C, I)
        s[p + "output.dense.bias"] = (C,)
        s[p + "output.LayerNorm.weight"] = (C,)
        s[p + "output.LayerNorm.bias"] = (C,)
    return s


def is_norm(name):
    return "norm" in name.lower() or ".ln_" in name or name.startswith("ln_f")


def init_weights(shapes, seed):
    """Random float32 weights, drawn in sorted-name order from one seeded
    generator: embeddings N(0, 0.2), matrices N(0, 0.1), biases N(0, 0.1),
    norm weights 1 + N(0, 0.1)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name in sorted(shapes):
        shp = shapes[name]
        r = torch.randn(shp, generator=g, dtype=torch.float32)
        if is_norm(name) and name.endswith(".weight"):
            t = 1.0 + 0.1 * r
        elif name.endswith(".bias"):
            t = B_STD * r
        elif "embed" in name or name in ("wte.weight", "wpe.weight"):
            t = EMB_STD * r
        else:
            t = W_STD * r
        out[name] = t.to(torch.float32)
    return out


# ---------------------------------------------------------------------------
# inputs


def make_inputs(seed, lengths, vocab, first=None, pad_id=0, bert=False):
    """A right-padded batch: ids uniform in [3, vocab), optional fixed first
    token, attention_mask 1/0, and (BERT) token_type_ids 0 for the first half
    of each sequence's tokens and 1 for the rest (0 on padding)."""
    g = torch.Generator().manual_seed(seed)
    T = max(lengths)
    ids = torch.full((len(lengths), T), pad_id, dtype=torch.int64)
    mask = torch.zeros((len(lengths), T), dtype=torch.int64)
    tt = torch.zeros((len(lengths), T), dtype=torch.int64)
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(3, vocab, (n,), generator=g)
        if first is not None:
            ids[b, 0] = first
        mask[b, :n] = 1
        if bert:
            tt[b, (n + 1) // 2:n] = 1
    return ids, mask, tt


def to_sd64(cfg, w):
    """float64 module-named state dict from checkpoint-named float32 weights."""
    sd = {}
    for k, v in w.items():
        if cfg["model_type"] == "gpt2":
            k = "transformer." + k
        sd[k] = v.to(torch.float64)
    return sd


def check_batch_vs_single(cfg, sd, ids, mask, tt, logits):
    """Self-check: every sequence run alone without padding gives the same
    logits at its real positions as in the padded batch."""
    worst = 0.0
    for b in range(ids.shape[0]):
        n = int(mask[b].sum())
        one = common.forward(cfg, sd, ids[b:b + 1, :n], mask[b:b + 1, :n],
                             None if tt is None else tt[b:b + 1, :n])
        worst = max(worst, float((one[0] - logits[b, :n]).abs().max()))
    if worst > 1e-12:
        raise SystemExit("%s: batch vs single mismatch %g" % (cfg["model_type"], worst))
    return worst


def check_rope_complex(cfg):
    """Self-check of the RoPE layout against an independent formulation:
    HF's rotate_half rotates the pair (i, i + D/2) by angle pos*inv_freq[i],
    i.e. multiplies the complex number x_i + j*x_{i+D/2} by e^{j*angle}."""
    D = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    g = torch.Generator().manual_seed(7)
    x = torch.randn(1, 1, 9, D, generator=g, dtype=torch.float64)
    inv = common.rope_inv_freq(cfg, D)
    pos = torch.arange(9)
    got = common.apply_rope(x, inv, pos)
    z = torch.complex(x[..., :D // 2], x[..., D // 2:])
    z = z * torch.exp(1j * (pos[:, None].to(torch.float64) * inv[None, :]))
    want = torch.cat((z.real, z.imag), dim=-1)
    err = float((got - want).abs().max())
    if err > 1e-12:
        raise SystemExit("rope self-check failed: %g" % err)


def check_with_torch_nn(cfg, sd, ids, mask, tt, logits):
    """Self-check of GPT-2 and BERT against an independent implementation
    built from torch's own modules (nn.MultiheadAttention,
    nn.TransformerEncoderLayer, F.layer_norm, F.gelu), real positions only."""
    F = torch.nn.functional
    B, T = ids.shape
    mt = cfg["model_type"]
    pad = mask == 0
    if mt == "gpt2":
        C, H, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
        t = "transformer."
        x = F.embedding(ids, sd[t + "wte.weight"]) + sd[t + "wpe.weight"][:T]
        future = torch.ones(T, T, dtype=torch.bool).triu(1)
        for i in range(cfg["n_layer"]):
            p = t + "h.%d." % i
            mha = torch.nn.MultiheadAttention(C, H, bias=True, batch_first=True, dtype=torch.float64)
            with torch.no_grad():
                mha.in_proj_weight.copy_(sd[p + "attn.c_attn.weight"].t())
                mha.in_proj_bias.copy_(sd[p + "attn.c_attn.bias"])
                mha.out_proj.weight.copy_(sd[p + "attn.c_proj.weight"].t())
                mha.out_proj.bias.copy_(sd[p + "attn.c_proj.bias"])
            h = F.layer_norm(x, (C,), sd[p + "ln_1.weight"], sd[p + "ln_1.bias"], eps)
            a, _ = mha(h, h, h, key_padding_mask=pad, attn_mask=future, need_weights=False)
            x = x + a
            h = F.layer_norm(x, (C,), sd[p + "ln_2.weight"], sd[p + "ln_2.bias"], eps)
            h = F.gelu(F.linear(h, sd[p + "mlp.c_fc.weight"].t(), sd[p + "mlp.c_fc.bias"]), approximate="tanh")
            x = x + F.linear(h, sd[p + "mlp.c_proj.weight"].t(), sd[p + "mlp.c_proj.bias"])
        x = F.layer_norm(x, (C,), sd[t + "ln_f.weight"], sd[t + "ln_f.bias"], eps)
        want = F.linear(x, sd[t + "wte.weight"])
    elif mt == "bert":
        C, H, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
        e = "bert.embeddings."
        x = (F.embedding(ids, sd[e + "word_embeddings.weight"]) + sd[e + "position_embeddings.weight"][:T]
             + F.embedding(tt, sd[e + "token_type_embeddings.weight"]))
        x = F.layer_norm(x, (C,), sd[e + "LayerNorm.weight"], sd[e + "LayerNorm.bias"], eps)
        for i in range(cfg["num_hidden_layers"]):
            p = "bert.encoder.layer.%d." % i
            layer = torch.nn.TransformerEncoderLayer(
                C, H, cfg["intermediate_size"], dropout=0.0, activation="gelu", layer_norm_eps=eps,
                batch_first=True, norm_first=False, dtype=torch.float64)
            layer.train()  # the slow path: the inference fast path zeroes padded rows
            n = "attention.self."
            with torch.no_grad():
                layer.self_attn.in_proj_weight.copy_(torch.cat(
                    [sd[p + n + k + ".weight"] for k in ("query", "key", "value")]))
                layer.self_attn.in_proj_bias.copy_(torch.cat(
                    [sd[p + n + k + ".bias"] for k in ("query", "key", "value")]))
                for dst, src in ((layer.self_attn.out_proj, "attention.output.dense"),
                                 (layer.linear1, "intermediate.dense"), (layer.linear2, "output.dense"),
                                 (layer.norm1, "attention.output.LayerNorm"), (layer.norm2, "output.LayerNorm")):
                    dst.weight.copy_(sd[p + src + ".weight"])
                    dst.bias.copy_(sd[p + src + ".bias"])
            x = layer(x, src_key_padding_mask=pad)
        c = "cls.predictions."
        h = F.gelu(F.linear(x, sd[c + "transform.dense.weight"], sd[c + "transform.dense.bias"]))
        h = F.layer_norm(h, (C,), sd[c + "transform.LayerNorm.weight"], sd[c + "transform.LayerNorm.bias"], eps)
        want = F.linear(h, sd[e + "word_embeddings.weight"], sd[c + "bias"])
    else:
        return None
    err = float(((want.detach() - logits).abs() * mask[:, :, None]).max())
    if err > 1e-10:
        raise SystemExit("%s: torch.nn cross-check failed: %g" % (mt, err))
    return err


# ---------------------------------------------------------------------------
# fixtures


def write_model(name, cfg, w, dtype="F32", seed=None, lengths=(12, 7, 10), first=None):
    folder = os.path.join(OUT, name)
    cfg = dict(cfg)
    if dtype == "BF16":
        cfg["torch_dtype"] = "bfloat16"
    common.write_pretty_json(os.path.join(folder, "config.json"), cfg)
    common.write_safetensors(os.path.join(folder, "model.safetensors"), w, {"format": "pt"}, dtype=dtype)
    # Reference numbers come from exactly what was written.
    _, sd = common.load_model(folder)
    bert = cfg["model_type"] == "bert"
    pad = cfg.get("pad_token_id") or 0
    ids, mask, tt = make_inputs(seed, list(lengths), cfg["vocab_size"], first=first, pad_id=pad, bert=bert)
    logits = common.forward(cfg, sd, ids, mask, tt if bert else None)
    worst = check_batch_vs_single(cfg, sd, ids, mask, tt if bert else None, logits)
    nn_err = check_with_torch_nn(cfg, sd, ids, mask, tt, logits)
    if nn_err is not None:
        print("%-18s matches torch.nn modules (nn.MultiheadAttention / nn.TransformerEncoderLayer): max abs diff %.1e"
              % (name, nn_err))
    # Not stored: the same forward in float32, for the tolerance a float32
    # implementation can expect (real positions only).
    sd32 = {k: v.to(torch.float32) for k, v in sd.items()}
    l32 = common.forward(cfg, sd32, ids, mask, tt if bert else None).double()
    f32err = float(((l32 - logits).abs() * mask[:, :, None]).max())
    exp = {
        "script": "tools/ref/gen_models.py",
        "script_version": common.SCRIPT_VERSION,
        "torch_version": torch.__version__,
        "compute_dtype": "float64",
        "weights": "model.safetensors (%s), widened exactly to float64" % dtype,
        "pad_token_id": pad,
        "input_ids": ids.tolist(),
        "attention_mask": mask.tolist(),
    }
    if bert:
        exp["token_type_ids"] = tt.tolist()
    exp["logits_shape"] = list(logits.shape)
    exp["logits"] = common.rounded(logits)
    common.write_json(os.path.join(folder, "expected.json"), exp)
    print("%-18s logits %s  |logits| max %.3f  batch-vs-single %.1e  float32 run max abs diff %.1e" % (
        name, tuple(logits.shape), float(logits.abs().max()), worst, f32err))


# Config options that change the math, each run on a tiny model's weights
# with the option set: (name, base fixture, base config, keys set, input
# seed, length, first id).
VARIANTS = [
    ("llama-linear-rope", "llama-tiny", LLAMA, {"rope_scaling": {"type": "linear", "factor": 4.0}}, 2101, 8, 1),
    ("gpt2-gelu-erf", "gpt2-tiny", GPT2, {"activation_function": "gelu"}, 2105, 8, None),
    ("bert-gelu-tanh", "bert-tiny", BERT, {"hidden_act": "gelu_new"}, 2106, 8, None),
]


def write_variants():
    """variants/expected.json: for each VARIANTS entry, one unpadded sequence
    and its logits (T, V) with the base fixture's weights and its config plus
    the keys set. Each option must move the logits by more than 2e-4 (max
    abs change from the base config's; the tanh and erf GELUs differ by
    little), ten times the 2e-5 the Go test allows, or the fixture would
    not test it."""
    out = []
    for name, base, base_cfg, keys, seed, n, first in VARIANTS:
        _, sd = common.load_model(os.path.join(OUT, base))
        cfg = dict(base_cfg)
        cfg.update(keys)
        bert = cfg["model_type"] == "bert"
        ids, mask, tt = make_inputs(seed, [n], cfg["vocab_size"], first=first, bert=bert)
        tt = tt if bert else None
        logits = common.forward(cfg, sd, ids, mask, tt)[0]
        moved = float((logits - common.forward(base_cfg, sd, ids, mask, tt)[0]).abs().max())
        if moved < 2e-4:
            raise SystemExit("variant %s: the option moves the logits by only %g" % (name, moved))
        v = {"name": name, "base": base, "config": keys, "input_ids": ids[0].tolist()}
        if bert:
            v["token_type_ids"] = tt[0].tolist()
        v["logits_shape"] = list(logits.shape)
        v["logits"] = common.rounded(logits)
        out.append(v)
        print("variant %-18s on %-10s logits %s  max abs change from the base config %.2e" % (
            name, base, tuple(logits.shape), moved))
    common.write_json(os.path.join(OUT, "variants", "expected.json"), {
        "script": "tools/ref/gen_models.py",
        "script_version": common.SCRIPT_VERSION,
        "torch_version": torch.__version__,
        "compute_dtype": "float64",
        "weights": "each base fixture's model.safetensors (F32), widened exactly to float64",
        "variants": out,
    })


def decode_pieces(vocab_by_id, ids):
    """SentencePiece-style decode of tokenizer.json pieces: '\u2581' is a space,
    <0xNN> pieces are raw bytes, the leading space of the text is dropped."""
    out = bytearray()
    for i in ids:
        p = vocab_by_id[i]
        if len(p) == 6 and p.startswith("<0x") and p.endswith(">"):
            out.append(int(p[3:5], 16))
        else:
            out += p.replace("\u2581", " ").encode("utf-8")
    s = out.decode("utf-8", errors="replace")
    return s[1:] if s.startswith(" ") else s


def stories():
    folder = os.path.join(STORIES, "hf")
    if not os.path.isdir(folder):
        print("stories260K not found under %s: skipped" % folder)
        return
    cfg, sd = common.load_model(folder)
    with open(os.path.join(folder, "tokenizer.json")) as f:
        vocab = json.load(f)["model"]["vocab"]
    by_id = {v: k for k, v in vocab.items()}

    # Greedy decode 200 tokens from BOS (full recomputation each step).
    ids = [cfg["bos_token_id"]]
    for _ in range(200):
        t = torch.tensor([ids])
        lg = common.forward(cfg, sd, t, torch.ones_like(t))
        ids.append(int(lg[0, -1].argmax()))
    greedy = ids[1:]
    text = decode_pieces(by_id, greedy)
    with open(os.path.join(STORIES, "expected_greedy_t0_n200.txt")) as f:
        want = f.read()
    # The shared file ends with one newline that is not part of the tokens.
    if text != want.rstrip("\n"):
        raise SystemExit("stories260K greedy self-check failed:\n got %r\nwant %r" % (text, want))
    print("stories260K greedy 200 tokens == expected_greedy_t0_n200.txt")

    # Logits for BOS + the first 10 greedy tokens + 10 fixed ids.
    fixed = [300, 17, 511, 3, 128, 42, 260, 99, 450, 7]
    seq = [cfg["bos_token_id"]] + greedy[:10] + fixed
    t = torch.tensor([seq])
    logits = common.forward(cfg, sd, t, torch.ones_like(t))[0]
    sd32 = {k: v.to(torch.float32) for k, v in sd.items()}
    f32err = float((common.forward(cfg, sd32, t, torch.ones_like(t))[0].double() - logits).abs().max())
    exp = {
        "script": "tools/ref/gen_models.py",
        "script_version": common.SCRIPT_VERSION,
        "torch_version": torch.__version__,
        "model": "../shared/models/stories260K/hf",
        "compute_dtype": "float64",
        "weights": "model.safetensors (F32), widened exactly to float64",
        "input_ids": seq,
        "greedy_ids_200": greedy,
        "logits_shape": list(logits.shape),
        "logits": common.rounded(logits),
    }
    common.write_json(os.path.join(OUT, "stories260k", "expected.json"), exp)
    print("stories260k        logits %s  |logits| max %.3f  float32 run max abs diff %.1e" % (
        tuple(logits.shape), float(logits.abs().max()), f32err))


def main():
    common.setup_torch()
    check_rope_complex(LLAMA)
    check_rope_complex(LLAMA3)
    check_rope_complex(QWEN3)

    w = init_weights(llama_shapes(LLAMA), 1001)
    write_model("llama-tiny", LLAMA, w, seed=2001, first=1)
    write_model("llama-tiny-bf16", LLAMA, w, dtype="BF16", seed=2001, first=1)
    write_model("llama3-tiny", LLAMA3, init_weights(llama_shapes(LLAMA3), 1002), seed=2002, first=1)
    write_model("qwen2-tiny", QWEN2, init_weights(llama_shapes(QWEN2), 1003), seed=2003)
    write_model("qwen3-tiny", QWEN3, init_weights(llama_shapes(QWEN3), 1004), seed=2004)

    w = init_weights(gpt2_shapes(GPT2), 1005)
    # Buffers real GPT-2 checkpoints carry: causal mask and masked_bias.
    P = GPT2["n_positions"]
    for i in range(GPT2["n_layer"]):
        w["h.%d.attn.bias" % i] = torch.ones(P, P, dtype=torch.float32).tril().view(1, 1, P, P)
        w["h.%d.attn.masked_bias" % i] = torch.tensor(-10000.0, dtype=torch.float32)
    write_model("gpt2-tiny", GPT2, w, seed=2005)

    write_model("bert-tiny", BERT, init_weights(bert_shapes(BERT), 1006), seed=2006)
    write_variants()
    stories()


if __name__ == "__main__":
    main()
