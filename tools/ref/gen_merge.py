#!/usr/bin/python3
"""Generates testdata/ref/lora-merge/: the weights PEFT's merge_and_unload
gives for LoRA adapters on loft's tiny models, in the base's dtype, to test
lora.MergeFolder (loft merge) against.

PEFT's lora.Linear.merge (safe_merge=False, merge_and_unload's default) does

    delta = transpose(lora_B.weight @ lora_A.weight, fan_in_fan_out) * scaling
    base_layer.weight.data += delta

with the adapter in float32 (PEFT's autocast_adapter_dtype) and the base in
its own dtype: the float32 delta is added to the widened base weight and the
sum rounded once to the base dtype (torch's in-place add with a float32
operand). scaling is lora_alpha/r, or lora_alpha/sqrt(r) with use_rslora,
with alpha and r from alpha_pattern/rank_pattern where a key matches. The
script does exactly these torch operations.

  adapter/                  a PEFT adapter for llama-tiny (q_proj, v_proj,
                            down_proj; r 8, lora_alpha 16, use_rslora,
                            alpha_pattern {"down_proj": 8}), float32
  merged_llama_f32.safetensors   the adapted weights of llama-tiny (F32) merged
  merged_llama_f16.safetensors   ... of llama-tiny with every weight rounded to
                                 F16 (torch .half(), nearest even) merged, F16
  merged_llama_bf16.safetensors  ... of llama-tiny-bf16 merged, BF16
  merged_gpt2.safetensors        gpt2-tiny's c_attn weights (Conv1D, stored
                                 (in, out)) merged with lora-gpt2-tiny/c_attn/
                                 adapter_final (fan_in_fan_out), F32

Tensor names are the checkpoints' (GPT-2's without "transformer.").
Run from the repository root after gen_models.py and gen_lora.py:
/usr/bin/python3 tools/ref/gen_merge.py
"""

import math
import os
import sys

sys.dont_write_bytecode = True  # keep tools/ref free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (first: it sets one BLAS thread before torch loads)
import torch  # noqa: E402
import gen_lora  # noqa: E402

REF = "testdata/ref"
OUT = os.path.join(REF, "lora-merge")
R = 8
ALPHA = 16
ALPHA_PATTERN = {"down_proj": 8}
TARGETS = ["q_proj", "v_proj", "down_proj"]


def llama_adapter():
    """Seeded float32 adapter for llama-tiny: A Kaiming-uniform with
    a = sqrt(5) (U(-1/sqrt(in), 1/sqrt(in))), B ~ N(0, 0.01) so that the
    merge moves most BF16 weights. Module order: layer, then TARGETS."""
    sd = common.read_safetensors(os.path.join(REF, "llama-tiny", "model.safetensors"))
    g = torch.Generator().manual_seed(6001)
    ad = {}
    for i in range(2):
        for t in TARGETS:
            part = "mlp" if t == "down_proj" else "self_attn"
            path = "model.layers.%d.%s.%s" % (i, part, t)
            fout, fin = sd[path + ".weight"].shape
            bound = 1.0 / math.sqrt(fin)
            A = (torch.rand((R, fin), generator=g, dtype=torch.float32) * 2 - 1) * bound
            B = torch.randn((fout, R), generator=g, dtype=torch.float32) * 0.01
            ad[path] = (A, B)
    return ad


def scaling(path, alpha, r, rslora, alpha_pattern):
    """PEFT's per-module scaling; alpha_pattern keys match as get_pattern_key
    does (the key at the end of the name, after a dot)."""
    for k, v in alpha_pattern.items():
        if path == k or path.endswith("." + k):
            alpha = v
            break
    return alpha / math.sqrt(r) if rslora else alpha / r


def merged(base, ad, alpha, rslora, alpha_pattern, fan_in_fan_out, names):
    """PEFT's merge of every module of ad into base (a dict of tensors in the
    base dtype), as Linear.merge with safe_merge=False does it."""
    out = {}
    for path, (A, B) in ad.items():
        w = base[names(path)].clone()
        delta = B @ A
        if fan_in_fan_out:
            delta = delta.T
        delta = delta * scaling(path, alpha, A.shape[0], rslora, alpha_pattern)
        w.data += delta
        out[names(path)] = w
    return out


def main():
    common.setup_torch()
    ad = llama_adapter()
    # gen_lora's PEFT config and file layout, with this adapter's rsLoRA and
    # alpha_pattern.
    assert (gen_lora.R, gen_lora.ALPHA) == (R, ALPHA)
    cfg = gen_lora.adapter_config(TARGETS, "testdata/ref/llama-tiny", False)
    cfg.update(alpha_pattern=ALPHA_PATTERN, use_rslora=True)
    gen_lora.save_adapter(os.path.join(OUT, "adapter"), ad, cfg)

    f32 = common.read_safetensors(os.path.join(REF, "llama-tiny", "model.safetensors"))
    bf16 = common.read_safetensors(os.path.join(REF, "llama-tiny-bf16", "model.safetensors"))
    name = lambda p: p + ".weight"  # noqa: E731
    for tag, base, dt, dtype in (
        ("f32", f32, torch.float32, "F32"),
        ("f16", f32, torch.float16, "F16"),
        ("bf16", bf16, torch.bfloat16, "BF16"),
    ):
        b = {k: v.to(dt) for k, v in base.items()}
        m = merged(b, ad, ALPHA, True, ALPHA_PATTERN, False, name)
        moved = sum(int((m[k] != b[k]).sum()) for k in m)
        total = sum(m[k].numel() for k in m)
        print("llama %s: merge changed %d of %d adapted weights" % (tag, moved, total))
        common.write_safetensors(os.path.join(OUT, "merged_llama_%s.safetensors" % tag), m, {"format": "pt"}, dtype=dtype)

    gpt2 = common.read_safetensors(os.path.join(REF, "gpt2-tiny", "model.safetensors"))
    lg = common.read_safetensors(os.path.join(REF, "lora-gpt2-tiny", "c_attn", "adapter_final", "adapter_model.safetensors"))
    gad = {}
    for k, v in lg.items():
        p = k[len("base_model.model."):].rsplit(".lora_", 1)[0]
        A, B = gad.get(p, (None, None))
        gad[p] = (v, B) if ".lora_A." in k else (A, v)
    m = merged(gpt2, gad, ALPHA, False, {}, True, lambda p: p[len("transformer."):] + ".weight")
    print("gpt2: merged %s" % sorted(m))
    common.write_safetensors(os.path.join(OUT, "merged_gpt2.safetensors"), m, {"format": "pt"})


if __name__ == "__main__":
    main()
