#!/usr/bin/python3
"""Generates loft's optimizer and training-loop reference fixtures.

  * testdata/ref/optim/expected.json: learning-rate schedules and an AdamW
    run with decoupled weight decay and global-norm clipping on toy
    gradients, as torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR with
    transformers' lr_lambda functions (written out below) and
    torch.nn.utils.clip_grad_norm_ compute them, stepped as transformers'
    Trainer steps them: clip, optimizer.step(), then scheduler.step();
  * testdata/ref/lora-stories260k/accum/: LoRA training on stories260K with
    gradient accumulation, the loss normalised by the counted tokens of all
    the micro-batches of a step (transformers' num_items_in_batch), an
    epoch's last step shorter, a linear schedule with warmup, weight decay
    and clipping, and token-weighted validation losses. It reads the batches
    of lora-stories260k/data.json and the adapter of lora-stories260k/qv/
    adapter_init (written by gen_lora.py) and changes neither.

Everything is computed in float64 (the float32 inputs widened exactly); the
scripts also run the same steps in float32 and print how far that lands, the
tolerance a float32 implementation can expect (not stored).

optim/expected.json (one line of JSON):

  schedules: list of {kind, warmup, total, lr, lrs}: lrs[s] is the learning
    rate optimizer step s (0-based) runs with, for s in 0..total-1, read from
    the optimizer's param group before that step; lr is the peak rate.
    Kinds: constant (transformers' constant_with_warmup), linear, cosine
    (num_cycles 0.5).
  shapes, init, grads: two parameters of the given shapes, init their
    float32 starting values (flattened, parameter after parameter), grads[s]
    the float32 gradient of step s (same layout), shared by the runs below.
  adamw: list of runs, each {kind, warmup, total, lr, weight_decay,
    max_grad_norm, betas, eps, lrs, grad_norms, final} from init with
    grads: lrs[s] the rate step s ran with, grad_norms[s] the global norm
    before clipping (what clip_grad_norm_ returns), final the parameters
    after the last step.

lora-stories260k/accum/trajectory.json: settings (grad_accum 3, batches per
  epoch 10, steps 8 = 2 epochs of 3 + 3 + 3 + 1 micro-batches, batch k of an
  epoch = data.json's batch k, linear schedule, warmup 2, lr 2e-3, weight
  decay 0.5, clip 1.0, eval_every 4 on the validation batches 0..3), and per
  step: loss (mean over the counted tokens of the step's micro-batches,
  before the update), grad_norm (before clipping), lr, tokens; val_steps and
  val_loss (token-weighted mean over the validation batches after those
  steps). adapter_final/: the adapter after the 8 steps, F32.

Run from the repository root: /usr/bin/python3 tools/ref/gen_train.py
"""

import math
import os
import sys

sys.dont_write_bytecode = True  # keep tools/ref free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (first: it sets one BLAS thread before torch loads)
import torch  # noqa: E402
import gen_lora  # noqa: E402

OUT = "testdata/ref"
BETAS = (0.9, 0.999)
EPS = 1e-8


# ---------------------------------------------------------------------------
# transformers' lr_lambda functions (optimization.py), as formulas


def lr_lambda(kind, warmup, total):
    """The multiplier of the peak rate at optimizer step s (0-based)."""
    def f(s):
        if s < warmup:
            return float(s) / float(max(1, warmup))
        if kind == "constant":
            return 1.0
        progress = float(s - warmup) / float(max(1, total - warmup))
        if kind == "linear":
            return max(0.0, float(total - s) / float(max(1, total - warmup)))
        if kind == "cosine":
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))
        raise ValueError(kind)
    return f


def schedule_lrs(kind, warmup, total, lr):
    """The rate of each of total steps, as the optimizer sees it."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(kind, warmup, total))
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        p.grad = torch.zeros(1)
        opt.step()
        sched.step()
    return out


# ---------------------------------------------------------------------------
# optim/expected.json


def adamw_run(kind, warmup, total, lr, wd, max_norm, init, grads, shapes, dtype):
    params = []
    off = 0
    for shape in shapes:
        n = math.prod(shape)
        params.append(torch.nn.Parameter(init[off:off + n].reshape(shape).to(dtype).clone()))
        off += n
    opt = torch.optim.AdamW(params, lr=lr, betas=BETAS, eps=EPS, weight_decay=wd, foreach=False)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(kind, warmup, total))
    lrs, norms = [], []
    for s in range(total):
        off = 0
        for p in params:
            n = p.numel()
            p.grad = grads[s][off:off + n].reshape(p.shape).to(dtype).clone()
            off += n
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, max_norm)))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs, norms, torch.cat([p.detach().reshape(-1) for p in params])


def optim_fixture():
    schedules = []
    for kind in ("constant", "linear", "cosine"):
        for warmup, total in ((0, 1), (0, 5), (3, 10), (4, 4)):
            schedules.append({"kind": kind, "warmup": warmup, "total": total, "lr": 2e-3,
                              "lrs": common.rounded(schedule_lrs(kind, warmup, total, 2e-3), 17)})
    # Two parameters: 19 values (a SIMD-width remainder) and 3 x 15.
    shapes = [[19], [3, 15]]
    n = sum(math.prod(s) for s in shapes)
    g = torch.Generator().manual_seed(6001)
    init = torch.randn(n, generator=g, dtype=torch.float32)
    # Gradient scales whose norms (about 8x the scale) fall on both sides
    # of the clip at 1.
    scales = [0.05, 0.3, 0.08, 0.5, 0.02, 0.2, 0.1, 0.4, 0.06, 0.25]
    grads = [(torch.randn(n, generator=g, dtype=torch.float32) * sc).to(torch.float32) for sc in scales]
    runs = []
    for kind, warmup in (("linear", 2), ("cosine", 3), ("constant", 2), ("cosine", 0)):
        total, lr, wd, max_norm = len(scales), 1e-2, 0.1, 1.0
        lrs, norms, final = adamw_run(kind, warmup, total, lr, wd, max_norm, init.double(),
                                      [x.double() for x in grads], shapes, torch.float64)
        _, n32, f32 = adamw_run(kind, warmup, total, lr, wd, max_norm, init, grads, shapes, torch.float32)
        clipped = sum(1 for v in norms if v > max_norm)
        if not 0 < clipped < total:
            raise SystemExit("adamw %s: %d of %d steps clipped; want some of each" % (kind, clipped, total))
        # Without weight decay the parameters end elsewhere: the test can
        # tell whether the decay is applied.
        _, _, nowd = adamw_run(kind, warmup, total, lr, 0.0, max_norm, init.double(),
                               [x.double() for x in grads], shapes, torch.float64)
        print("optim %-8s warmup %d: %d/%d steps clipped; float32 vs float64 max |dw| %.1e; "
              "weight decay moves w by %.1e" % (kind, warmup, clipped, total,
                                                 float((f32.double() - final).abs().max()),
                                                 float((nowd - final).abs().max())))
        runs.append({"kind": kind, "warmup": warmup, "total": total, "lr": lr, "weight_decay": wd,
                     "max_grad_norm": max_norm, "betas": list(BETAS), "eps": EPS,
                     "lrs": common.rounded(lrs, 17), "grad_norms": common.rounded(norms, 15),
                     "final": common.rounded(final, 12)})
    common.write_json(os.path.join(OUT, "optim", "expected.json"), {
        "script": "tools/ref/gen_train.py",
        "script_version": common.SCRIPT_VERSION,
        "torch_version": torch.__version__,
        "compute_dtype": "float64",
        "schedules": schedules,
        "shapes": shapes,
        "init": init.tolist(),
        "grads": [x.tolist() for x in grads],
        "adamw": runs,
    })


# ---------------------------------------------------------------------------
# lora-stories260k/accum/


def loss_sum(cfg, sd, batch, params, scale):
    """Sum of the causal-LM cross-entropy over the batch's counted tokens,
    and their count."""
    mean, count = gen_lora.loss_of(cfg, sd, batch, params, scale)
    return mean * count, count


def accum_run(cfg, sd, adapter0, batches, valid, s, dtype, per_token=True):
    """transformers' Trainer loop over the fixed batch order: per step the
    epoch's next grad_accum batches (fewer at its end); each micro-batch's
    loss summed and divided by the counted tokens of the whole step
    (num_items_in_batch), backward; clip; AdamW; scheduler step. With
    per_token False each micro-batch's mean is divided by the number of
    micro-batches instead (the pre-2024 averaging), for the self-check."""
    scale = gen_lora.ALPHA / gen_lora.R
    params, order = {}, []
    for p, (A, B) in adapter0.items():
        a = torch.nn.Parameter(A.to(dtype).clone())
        b = torch.nn.Parameter(B.to(dtype).clone())
        params[p] = (a, b)
        order += [a, b]
    opt = torch.optim.AdamW(order, lr=s["lr"], betas=BETAS, eps=EPS, weight_decay=s["weight_decay"], foreach=False)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(s["schedule"], s["warmup"], s["steps"]))
    n, ga = len(batches), s["grad_accum"]
    pos = 0
    out = {"loss": [], "grad_norm": [], "lr": [], "tokens": [], "val_steps": [], "val_loss": []}
    for step in range(s["steps"]):
        i = pos % n
        micro = [batches[k] for k in range(i, min(i + ga, n))]
        pos += len(micro)
        opt.zero_grad(set_to_none=True)
        # num_items_in_batch: the counted targets of all the step's batches.
        total = sum(int((torch.tensor(b["labels"])[:, 1:] != -100).sum()) for b in micro)
        step_sum = 0.0
        for b in micro:
            ls, cnt = loss_sum(cfg, sd, b, params, scale)
            if per_token:
                (ls / total).backward()
            else:
                (ls / cnt / len(micro)).backward()
            step_sum += float(ls)
        out["grad_norm"].append(float(torch.nn.utils.clip_grad_norm_(order, s["max_grad_norm"])))
        out["lr"].append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
        out["loss"].append(step_sum / total)
        out["tokens"].append(total)
        if (step + 1) % s["eval_every"] == 0 or step + 1 == s["steps"]:
            with torch.no_grad():
                vs, vn = 0.0, 0
                for b in valid:
                    ls, cnt = loss_sum(cfg, sd, b, params, scale)
                    vs, vn = vs + float(ls), vn + cnt
            out["val_steps"].append(step + 1)
            out["val_loss"].append(vs / vn)
    final = {p: (a.detach(), b.detach()) for p, (a, b) in params.items()}
    return out, final


def accum_fixture():
    if not os.path.isdir(gen_lora.STORIES_HF):
        print("stories260K not found under %s: skipped" % gen_lora.STORIES_HF)
        return
    import json
    cfg, sd = common.load_model(gen_lora.STORIES_HF)
    base = os.path.join(OUT, "lora-stories260k")
    with open(os.path.join(base, "data.json")) as f:
        batches = json.load(f)["batches"]
    raw = common.read_safetensors(os.path.join(base, "qv", "adapter_init", "adapter_model.safetensors"))
    adapter0 = {}
    for p in gen_lora.target_paths(cfg, ["q_proj", "v_proj"]):
        adapter0[p] = (raw[gen_lora.peft_key(p, "A")], raw[gen_lora.peft_key(p, "B")])
    s = {"grad_accum": 3, "steps": 8, "schedule": "linear", "warmup": 2, "lr": 2e-3, "weight_decay": 0.5,
         "max_grad_norm": 1.0, "eval_every": 4, "valid_batches": [0, 1, 2, 3]}
    valid = [batches[k] for k in s["valid_batches"]]
    ref, final = accum_run(cfg, sd, adapter0, batches, valid, s, torch.float64)
    sd32 = {k: v.to(torch.float32) for k, v in sd.items()}
    r32, _ = accum_run(cfg, sd32, adapter0, batches, valid, s, torch.float32)
    means, _ = accum_run(cfg, sd, adapter0, batches, valid, s, torch.float64, per_token=False)
    nowd, fnowd = accum_run(cfg, sd, adapter0, batches, valid, dict(s, weight_decay=0.0), torch.float64)
    clipped = sum(1 for v in ref["grad_norm"] if v > s["max_grad_norm"])
    if not 0 < clipped < s["steps"]:
        raise SystemExit("accum: %d of %d steps clipped; want some of each" % (clipped, s["steps"]))
    rel = lambda a, b: max(abs(x - y) / abs(y) for x, y in zip(a, b))  # noqa: E731
    # The logged loss is the token-weighted mean either way; the gradients
    # differ.
    dmeans = rel(means["grad_norm"], ref["grad_norm"])
    dwd = max(float((fnowd[p][i] - final[p][i]).abs().max()) for p in final for i in (0, 1))
    if dmeans < 1e-3 or dwd < 2e-4:
        raise SystemExit("accum: the per-micro-batch mean (%.1e) or no weight decay (%.1e) is too close" % (dmeans, dwd))
    folder = os.path.join(base, "accum")
    cfg_json = gen_lora.adapter_config(["q_proj", "v_proj"], "stories260K/hf", False)
    gen_lora.save_adapter(os.path.join(folder, "adapter_final"), final, cfg_json)
    traj = {
        "script": "tools/ref/gen_train.py",
        "script_version": common.SCRIPT_VERSION,
        "torch_version": torch.__version__,
        "compute_dtype": "float64",
        "adapter_init": "../qv/adapter_init",
        "data": "../data.json",
        "settings": dict(s, betas=list(BETAS), eps=EPS, batches_per_epoch=len(batches)),
        "loss": common.rounded(ref["loss"], 12),
        "grad_norm": common.rounded(ref["grad_norm"], 12),
        "lr": common.rounded(ref["lr"], 17),
        "tokens": ref["tokens"],
        "val_steps": ref["val_steps"],
        "val_loss": common.rounded(ref["val_loss"], 12),
    }
    common.write_pretty_json(os.path.join(folder, "trajectory.json"), traj)
    print("accum loss %s" % " ".join("%.5f" % v for v in ref["loss"]))
    print("      grad_norm %s (%d clipped)" % (" ".join("%.3f" % v for v in ref["grad_norm"]), clipped))
    print("      val %s at steps %s" % (" ".join("%.5f" % v for v in ref["val_loss"]), ref["val_steps"]))
    print("      float32 vs float64: max rel loss %.1e, grad_norm %.1e; mean of micro-batch means: grad_norm %.1e; "
          "no weight decay moves the adapter by %.1e" % (rel(r32["loss"], ref["loss"]),
                                                         rel(r32["grad_norm"], ref["grad_norm"]), dmeans, dwd))


def main():
    common.setup_torch()
    optim_fixture()
    accum_fixture()


if __name__ == "__main__":
    main()
