#!/usr/bin/python3
"""Generates loft's LoRA training reference fixtures under testdata/ref/.

  * lora-stories260k/: token data (data.json) and, for the target sets
    q_proj,v_proj (qv/) and all-linear (all-linear/), a fixed initial PEFT
    adapter, the step-0 gradients, a 10-step AdamW trajectory and the final
    adapter, on ../shared/models/stories260K/hf;
  * lora-gpt2-tiny/: the same for c_attn (Conv1D, fan_in_fan_out) on
    testdata/ref/gpt2-tiny (run gen_models.py first), 3 steps;
  * lora-qwen2-tiny/ (q_proj,v_proj: LoRA beside q/v biases) and
    lora-qwen3-tiny/ (all-linear: through q_norm/k_norm), 3 steps.

Everything is computed in float64: the float32 base weights and the float32
initial adapter are widened exactly to float64, trained in float64, and the
stored tensors are rounded to float32 at the end.

Run from the repository root: /usr/bin/python3 tools/ref/gen_lora.py
See tools/ref/README.md for every file's exact contents.
"""

import math
import os
import random
import sys

sys.dont_write_bytecode = True  # keep tools/ref free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (first: it sets one BLAS thread before torch loads)
import torch  # noqa: E402

OUT = "testdata/ref"
SHARED = os.environ.get("LOFT_SHARED", "../shared")
STORIES_HF = os.path.join(SHARED, "models", "stories260K", "hf")

R = 8
ALPHA = 16
LR = 1e-3
BETAS = (0.9, 0.999)
EPS = 1e-8
MAX_GRAD_NORM = 1.0
B_INIT_STD = 0.02  # initial lora_B ~ N(0, 0.02), so A gets a gradient at step 0

LLAMA_LINEAR = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


def module_dims(cfg, sd, path):
    """(in, out) of a linear module; Conv1D weights are stored (in, out)."""
    w = sd[path + ".weight"]
    if cfg["model_type"] == "gpt2":
        return w.shape[0], w.shape[1]
    return w.shape[1], w.shape[0]


def target_paths(cfg, targets):
    """Module paths adapted for a list of name suffixes, layer by layer, in a
    fixed order."""
    out = []
    if cfg["model_type"] == "gpt2":
        for i in range(cfg["n_layer"]):
            for t in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
                if t.split(".")[-1] in targets:
                    out.append("transformer.h.%d.%s" % (i, t))
        return out
    for i in range(cfg["num_hidden_layers"]):
        for t in LLAMA_LINEAR:
            if t.split(".")[-1] in targets:
                out.append("model.layers.%d.%s" % (i, t))
    return out


def init_adapter(cfg, sd, paths, seed):
    """float32 initial adapter: A Kaiming-uniform with a = sqrt(5) as PEFT
    (nn.init.kaiming_uniform_ on a (r, in) weight: U(-1/sqrt(in), 1/sqrt(in))),
    B ~ N(0, 0.02). Drawn from one generator, module by module in `paths`
    order, A then B."""
    g = torch.Generator().manual_seed(seed)
    ad = {}
    for p in paths:
        fin, fout = module_dims(cfg, sd, p)
        gain = math.sqrt(2.0 / (1.0 + 5.0))  # leaky_relu gain with a = sqrt(5)
        bound = math.sqrt(3.0) * gain / math.sqrt(fin)
        A = (torch.rand((R, fin), generator=g, dtype=torch.float32) * 2 - 1) * bound
        B = torch.randn((fout, R), generator=g, dtype=torch.float32) * B_INIT_STD
        ad[p] = (A.to(torch.float32), B.to(torch.float32))
    return ad


def peft_key(path, which):
    return "base_model.model." + path + ".lora_" + which + ".weight"


def adapter_config(targets, base, fan_in_fan_out):
    return {
        "alpha_pattern": {},
        "auto_mapping": None,
        "base_model_name_or_path": base,
        "bias": "none",
        "fan_in_fan_out": fan_in_fan_out,
        "inference_mode": True,
        "init_lora_weights": True,
        "layers_pattern": None,
        "layers_to_transform": None,
        "lora_alpha": ALPHA,
        "lora_dropout": 0.0,
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": R,
        "rank_pattern": {},
        "revision": None,
        "target_modules": targets,
        "task_type": "CAUSAL_LM",
        "use_dora": False,
        "use_rslora": False,
    }


def save_adapter(folder, tensors_by_path, cfg_json):
    common.write_pretty_json(os.path.join(folder, "adapter_config.json"), cfg_json)
    flat = {}
    for p, (A, B) in tensors_by_path.items():
        flat[peft_key(p, "A")] = A
        flat[peft_key(p, "B")] = B
    common.write_safetensors(os.path.join(folder, "adapter_model.safetensors"), flat, {"format": "pt"})


def make_batches(seqs, bos, eos, pad, seq_len, batch):
    """Example = [bos] + ids + [eos] (or ids + [eos] when bos is None), right-
    padded with `pad` to seq_len; labels = input_ids with -100 on padding.
    Batch k holds examples k*batch .. k*batch+batch-1 (no shuffle)."""
    out = []
    for k in range(0, len(seqs), batch):
        ids, mask, labels = [], [], []
        for s in seqs[k:k + batch]:
            ex = ([bos] if bos is not None else []) + s + [eos]
            assert len(ex) <= seq_len
            n = len(ex)
            ids.append(ex + [pad] * (seq_len - n))
            mask.append([1] * n + [0] * (seq_len - n))
            labels.append(ex + [-100] * (seq_len - n))
        out.append({"input_ids": ids, "attention_mask": mask, "labels": labels})
    return out


def batch_tensors(b):
    return (torch.tensor(b["input_ids"]), torch.tensor(b["attention_mask"]), torch.tensor(b["labels"]))


def lora_dict(params, scale):
    return {p: (A, B, scale) for p, (A, B) in params.items()}


def loss_of(cfg, sd, batch, params, scale):
    ids, mask, labels = batch_tensors(batch)
    logits = common.forward(cfg, sd, ids, mask, lora=lora_dict(params, scale))
    return common.causal_lm_loss(logits, labels)


def check_fd(cfg, sd, batch, params, scale, grads, n=3):
    """Self-check: central finite differences (float64, h = 1e-6) of the loss
    against autograd for a few entries of the first and last A and B."""
    paths = list(params)
    worst = 0.0
    with torch.no_grad():
        for p in (paths[0], paths[-1]):
            for which in (0, 1):
                t = params[p][which]
                g = grads[p][which]
                for j in range(n):
                    idx = (j * 5 % t.shape[0], j * 11 % t.shape[1])
                    old = float(t[idx])
                    t[idx] = old + 1e-6
                    lp, _ = loss_of(cfg, sd, batch, params, scale)
                    t[idx] = old - 1e-6
                    lm, _ = loss_of(cfg, sd, batch, params, scale)
                    t[idx] = old
                    fd = (float(lp) - float(lm)) / 2e-6
                    err = abs(fd - float(g[idx])) / max(1e-6, abs(fd))
                    worst = max(worst, err)
    if worst > 1e-5:
        raise SystemExit("finite-difference self-check failed: rel err %g" % worst)
    return worst


def run(cfg, sd, adapter0, batches, steps, dtype, fd_check=False):
    """The training loop: per step zero grads, forward, masked mean
    cross-entropy, backward, clip the global norm of all LoRA grads to 1.0,
    AdamW step. Returns (losses, grad norms before clipping, counted tokens,
    step-0 grads {path: (dA, dB)}, final {path: (A, B)}, fd self-check)."""
    scale = ALPHA / R
    params = {}
    order = []
    for p, (A, B) in adapter0.items():
        a = torch.nn.Parameter(A.to(dtype).clone())
        b = torch.nn.Parameter(B.to(dtype).clone())
        params[p] = (a, b)
        order += [a, b]
    opt = torch.optim.AdamW(order, lr=LR, betas=BETAS, eps=EPS, weight_decay=0.0, foreach=False)
    losses, norms, tokens = [], [], []
    grads, fd = None, None
    for step in range(steps):
        batch = batches[step % len(batches)]
        opt.zero_grad(set_to_none=True)
        loss, count = loss_of(cfg, sd, batch, params, scale)
        loss.backward()
        if step == 0:
            grads = {p: (a.grad.detach().clone(), b.grad.detach().clone()) for p, (a, b) in params.items()}
            if fd_check:
                fd = check_fd(cfg, sd, batch, params, scale, grads)
        gn = torch.nn.utils.clip_grad_norm_(order, MAX_GRAD_NORM)
        opt.step()
        losses.append(float(loss))
        norms.append(float(gn))
        tokens.append(count)
    final = {p: (a.detach(), b.detach()) for p, (a, b) in params.items()}
    return losses, norms, tokens, grads, final, fd


def train(cfg, sd, adapter0, batches, steps, folder, targets_json, base_name, fan_in_fan_out):
    """AdamW on the LoRA parameters only, in float64; writes the fixture."""
    scale = ALPHA / R
    # Self-check: B = 0 gives the base logits exactly.
    ids, mask, _ = batch_tensors(batches[0])
    base = common.forward(cfg, sd, ids, mask)
    zero = {p: (A.double(), torch.zeros_like(B.double())) for p, (A, B) in adapter0.items()}
    if not torch.equal(base, common.forward(cfg, sd, ids, mask, lora=lora_dict(zero, scale))):
        raise SystemExit("B = 0 does not reproduce the base logits")

    losses, norms, tokens, grads, final, fd = run(cfg, sd, adapter0, batches, steps, torch.float64, fd_check=True)
    common.write_safetensors(
        os.path.join(folder, "grads_step0.safetensors"),
        {peft_key(p, w): g for p, gg in grads.items() for w, g in zip("AB", gg)},
        {"format": "pt"})

    # Not stored: the same run in float32 (weights, adapter, AdamW state), to
    # show what a float32 implementation can expect against these numbers.
    sd32 = {k: v.to(torch.float32) for k, v in sd.items()}
    l32, n32, _, g32, _, _ = run(cfg, sd32, adapter0, batches, steps, torch.float32)
    rel_loss = max(abs(a - b) / abs(b) for a, b in zip(l32, losses))
    rel_norm = max(abs(a - b) / abs(b) for a, b in zip(n32, norms))
    rel_grad = max(float((g32[p][i].double() - grads[p][i]).abs().max() / grads[p][i].abs().max())
                   for p in grads for i in (0, 1))
    cfg_json = adapter_config(targets_json, base_name, fan_in_fan_out)
    save_adapter(os.path.join(folder, "adapter_init"), adapter0, cfg_json)
    save_adapter(os.path.join(folder, "adapter_final"), final, cfg_json)
    with torch.no_grad():
        # The same batches under the initial adapter, never updated: how far
        # training moved each step's loss.
        init64 = {p: (A.double(), B.double()) for p, (A, B) in adapter0.items()}
        frozen = [float(loss_of(cfg, sd, batches[s % len(batches)], init64, scale)[0]) for s in range(steps)]
        # Loss of batch 0 under the final adapter as stored (float32-rounded).
        f32 = {p: (a.float().double(), b.float().double()) for p, (a, b) in final.items()}
        after, _ = loss_of(cfg, sd, batches[0], f32, scale)
    traj = {
        "script": "tools/ref/gen_lora.py",
        "script_version": common.SCRIPT_VERSION,
        "torch_version": torch.__version__,
        "compute_dtype": "float64",
        "r": R,
        "lora_alpha": ALPHA,
        "scale": scale,
        "target_modules": targets_json,
        "adapted_modules": list(adapter0),
        "optimizer": {"name": "AdamW", "lr": LR, "betas": list(BETAS), "eps": EPS, "weight_decay": 0.0,
                      "schedule": "constant"},
        "max_grad_norm": MAX_GRAD_NORM,
        "steps": steps,
        "loss": common.rounded(losses, 12),
        "grad_norm": common.rounded(norms, 12),
        "tokens": tokens,
        "loss_initial_adapter": common.rounded(frozen, 12),
        "final_loss_batch0": common.rounded(float(after), 12),
    }
    common.write_pretty_json(os.path.join(folder, "trajectory.json"), traj)
    print("%-28s fd-check %.1e  loss %s" % (folder, fd, " ".join("%.5f" % v for v in losses)))
    print("%-28s grad_norm %s" % ("", " ".join("%.4f" % v for v in norms)))
    print("%-28s rel. change vs initial adapter %s" % ("", " ".join(
        "%.1e" % (abs(a - b) / b) for a, b in zip(losses, frozen))))
    print("%-28s float32 run vs float64: max rel loss %.1e, grad_norm %.1e, step-0 grads %.1e (of max |g|)" % (
        "", rel_loss, rel_norm, rel_grad))


def sample_sequences(cfg, sd, n, lengths, seed, banned):
    """Samples n sequences from the model at temperature 1, each starting
    after BOS, with Python's random.Random(seed) (inverse CDF on the float64
    softmax; `banned` ids get probability 0), then cuts sequence i to
    lengths[i] tokens."""
    rng = random.Random(seed)
    L = max(lengths)
    seqs = [[cfg["bos_token_id"]] for _ in range(n)]
    with torch.no_grad():
        for _ in range(L):
            t = torch.tensor(seqs)
            logits = common.forward(cfg, sd, t, torch.ones_like(t))[:, -1]
            logits[:, banned] = float("-inf")
            probs = torch.softmax(logits, dim=-1).tolist()
            for i in range(n):
                u = rng.random()
                acc = 0.0
                tok = len(probs[i]) - 1
                for j, pj in enumerate(probs[i]):
                    acc += pj
                    if u < acc:
                        tok = j
                        break
                while probs[i][tok] == 0.0:  # u beyond the rounded total
                    tok -= 1
                seqs[i].append(tok)
    return [s[1:1 + lengths[i]] for i, s in enumerate(seqs)]


def stories():
    if not os.path.isdir(STORIES_HF):
        print("stories260K not found under %s: skipped" % STORIES_HF)
        return
    cfg, sd = common.load_model(STORIES_HF)
    folder = os.path.join(OUT, "lora-stories260k")
    n, seq_len, batch, steps = 40, 32, 4, 10
    rng = random.Random(3001)
    lengths = [rng.randint(4, seq_len - 2) for _ in range(n)]
    lengths[5] = seq_len - 2  # one example fills the whole window
    seqs = sample_sequences(cfg, sd, n, lengths, 3002, banned=[0, 1, 2])
    bos, eos, pad = cfg["bos_token_id"], cfg["eos_token_id"], 0
    batches = make_batches(seqs, bos, eos, pad, seq_len, batch)
    common.write_json(os.path.join(folder, "data.json"), {
        "script": "tools/ref/gen_lora.py",
        "script_version": common.SCRIPT_VERSION,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": pad,
        "seq_len": seq_len,
        "batch_size": batch,
        "sequences": seqs,
        "batches": batches,
    })
    for name, targets, seed in (("qv", ["q_proj", "v_proj"], 4001),
                                ("all-linear", ["q_proj", "k_proj", "v_proj", "o_proj",
                                                "gate_proj", "up_proj", "down_proj"], 4002)):
        paths = target_paths(cfg, targets)
        ad = init_adapter(cfg, sd, paths, seed)
        train(cfg, sd, ad, batches, steps, os.path.join(folder, name), targets, "stories260K/hf", False)


def tiny(model, cases, seed):
    """LoRA on one of the tiny random models of gen_models.py: 6 sequences of
    random ids in [0, eos), example = ids + [EOS] (these tokenizers add no
    BOS), right-padded with EOS to 16, batch 2, 3 steps. cases: list of
    (folder name, target_modules, fan_in_fan_out)."""
    base = os.path.join(OUT, model)
    if not os.path.isfile(os.path.join(base, "model.safetensors")):
        raise SystemExit("run tools/ref/gen_models.py first (needs %s)" % base)
    cfg, sd = common.load_model(base)
    folder = os.path.join(OUT, "lora-" + model)
    n, seq_len, batch, steps = 6, 16, 2, 3
    g = torch.Generator().manual_seed(seed)
    eos = cfg["eos_token_id"]
    seqs = []
    for i in range(n):
        L = [14, 5, 9, 12, 7, 15][i]
        seqs.append(torch.randint(0, eos, (L,), generator=g).tolist())
    batches = make_batches(seqs, None, eos, eos, seq_len, batch)
    common.write_json(os.path.join(folder, "data.json"), {
        "script": "tools/ref/gen_lora.py",
        "script_version": common.SCRIPT_VERSION,
        "bos_token_id": None,
        "eos_token_id": eos,
        "pad_token_id": eos,
        "seq_len": seq_len,
        "batch_size": batch,
        "sequences": seqs,
        "batches": batches,
    })
    for k, (name, targets, fifo) in enumerate(cases):
        ad = init_adapter(cfg, sd, target_paths(cfg, targets), seed + 1 + k)
        train(cfg, sd, ad, batches, steps, os.path.join(folder, name), targets, base, fifo)


def main():
    common.setup_torch()
    stories()
    tiny("gpt2-tiny", [("c_attn", ["c_attn"], True)], 5001)
    tiny("qwen2-tiny", [("qv", ["q_proj", "v_proj"], False)], 5101)
    tiny("qwen3-tiny", [("all-linear", ["q_proj", "k_proj", "v_proj", "o_proj",
                                        "gate_proj", "up_proj", "down_proj"], False)], 5201)


if __name__ == "__main__":
    main()
