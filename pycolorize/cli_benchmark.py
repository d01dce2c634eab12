"""`pycolorize benchmark` (also `python tools/benchmark.py`): our dense network beside the same
network in PyTorch, on the CPU or (--gpu) a CUDA device.

The workers run this file by path (`python .../pycolorize/cli_benchmark.py --worker ...`), each
framework in its own process; they import pycolorize from the folder above this file, so they
run the same copy as the command that spawned them."""
if __name__ == "__main__":  # a worker: this file's folder must not shadow anything, its package must be found
    import os as _os
    import sys as _sys

    _sys.path[0] = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

if __name__ == "__main__":  # a worker needs none of the command's machinery (and PyTorch's, no pycolorize)
    EXIT_CODES, CommandError, add_quiet, repo_path = "", RuntimeError, None, None
else:
    from .cli import EXIT_CODES, CommandError, add_quiet, repo_path

DEPLOY = "prototxt/colorize_deploy.prototxt"  # looked up in the source tree (cli.repo_path)
HEAD = "prediction_h_full"

SUMMARY = "time the dense net beside PyTorch (CPU, or --gpu)"

DESCRIPTION = """\
CPU benchmark: forward time of the authors' full-size dense colorization network
(prototxt/colorize_deploy.prototxt: VGG-16 gray, 12,417-channel hypercolumn at 1/4 resolution,
h_fc1, hue/chroma heads) at 256x256 and 512x512 with random weights, in pycolorize and in the
same network written in PyTorch (CPU), measured in the same run.

    pycolorize benchmark [--sizes 256 512] [--runs 5] [--threads N] [--profile]
    pycolorize benchmark --gpu [ID] [--tf32] [--train-iters 10] [--runs 5] [--profile]

Each framework runs in its own subprocess (so peak memory is its own) on the same weights and
the same input; the command prints the median forward time, the ratio ours/PyTorch, the peak
resident memory of each process, and checks that both produce the same prediction. PyTorch is
optional (PyPI's `torch` wheel is a large download but runs on the CPU); without it the
comparison is skipped and only our figures are printed.

With --gpu: (a) training throughput of the full training net (batch 8 of 256x256 crops, data
upload and SGD step included) beside the same net in PyTorch (cuDNN, torch.optim.SGD); (b)
latency of the dense deploy net at 512x512 beside PyTorch with the same weights; (c) peak GPU
memory. FP32 in both unless --tf32."""

EPILOG = f"""\
examples:
  pycolorize benchmark                         # CPU, 256x256 and 512x512
  pycolorize benchmark --sizes 512 --profile   # where our time goes, by layer type
  pycolorize benchmark --gpu 0 --tf32          # CUDA device 0, TF32 allowed in both frameworks
  (`python tools/benchmark.py ...` takes the same arguments; a bare --gpu means device 0)

{EXIT_CODES}"""


def add_arguments(ap):
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="CPU: input sides, multiples of 32")
    ap.add_argument("--runs", type=int, default=5, help="timed forward passes per size (median reported)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads of both frameworks")
    ap.add_argument("--profile", action="store_true", help="also print where our time goes by layer type (with --gpu: the training step)")
    # ID optional here (no positional it could swallow): tools/gpu_check.sh runs `--gpu` bare
    ap.add_argument("--gpu", type=int, nargs="?", const=0, metavar="ID",
                    help="GPU benchmark on CUDA device ID (bare --gpu: 0): training throughput, 512x512 inference, memory")
    ap.add_argument("--tf32", action="store_true", help="with --gpu: allow TF32 in both frameworks")
    ap.add_argument("--train-iters", type=int, default=10, help="with --gpu: timed training iterations")
    add_quiet(ap, "print only the results")


def make_weights(path, prototxt, seed=0):
    """He-initialised random weights for every learned layer, written as Caffe HDF5."""
    import pycolorize

    net = pycolorize.Net(prototxt)
    rng = np.random.RandomState(seed)
    for name, blobs in net.params.items():
        if name.endswith("_reshaped"):
            continue  # the fixed bilinear upsampling kernels keep their filler values
        w = blobs[0].data
        w[...] = rng.randn(*w.shape).astype(np.float32) * np.sqrt(2.0 / (w.size // w.shape[0]))
        if len(blobs) > 1:
            blobs[1].data[...] = rng.randn(*blobs[1].shape).astype(np.float32) * 0.01
    net.save(path)


def peak_rss_mb():
    """This process's peak resident memory. VmHWM belongs to the process image (getrusage's
    ru_maxrss survives exec, so it would report the parent's peak)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def layer_kind(layer):
    """A profile's row: the layer type, with the kernel size for convolutions ("Convolution 3x3")."""
    if layer.type == "Convolution":
        return "Convolution {}x{}".format(*layer.blobs[0].shape[2:])
    return layer.type


def run_ours(size, runs, weights, x, profile, device="cpu", prototxt=None):
    import pycolorize

    if device == "cuda":
        pycolorize.set_mode_gpu()  # on the device the worker selected (pycolorize.use_gpu)
    net = pycolorize.Net(prototxt, weights=weights)
    net.forward(data=x)  # warm-up (allocates every blob; on the GPU also picks cuDNN algorithms)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = net.forward(data=x)
        times.append(time.perf_counter() - t)
    result = {"times": times, "out": out[HEAD]}
    if device == "cuda":
        mem = pycolorize.gpu_memory()
        result["gpu_peak_mb"] = mem["peak_allocated"] / 2**20
        result["gpu_used_mb"] = (mem["device_total"] - mem["device_free"]) / 2**20
    if profile:
        per_type = {}
        for i, layer in enumerate(net.layers):
            t = time.perf_counter()
            net.forward_layers(i, i)
            dt = time.perf_counter() - t
            key = layer_kind(layer)
            per_type[key] = per_type.get(key, 0.0) + dt
        result["profile"] = per_type
    return result


def run_torch(size, runs, weights, x, profile, device="cpu"):
    import torch
    import torch.nn.functional as F

    from pycolorize.weights import open_h5, read_caffe_h5

    with open_h5(weights) as f:
        W = {name: [torch.from_numpy(b).to(device) for b in blobs] for name, blobs in read_caffe_h5(f, weights).items() if blobs}

    def conv(h, name, pad):
        return F.relu(F.conv2d(h, W[name][0], W[name][1], padding=pad))

    def up(t, name):  # the deploy net's Reshape {-1,1} -> bilinear Deconvolution -> Reshape trick
        k = W[name][0]
        f = k.shape[-1] // 2
        n, c, h, w = t.shape
        u = F.conv_transpose2d(t.reshape(n * c, 1, h, w), k, stride=f, padding=(f + 1) // 2 if f > 1 else 0)
        return u.reshape(n, c, u.shape[-2], u.shape[-1])

    from pycolorize import models

    stride = dict(zip(models.HYPERCOLUMN, models.STRIDES))

    def column(name, h):  # the deploy net's resampling of each hypercolumn layer to 1/4 resolution
        s = stride[name]
        return F.avg_pool2d(h, 4 // s) if s < 4 else h if s == 4 else up(h, name + "_full_reshaped")

    def forward(data):
        # the structure of models.deploy_net: VGG blocks of models.BLOCKS convolutions, fc6 7x7 / fc7
        # 1x1, the models.HYPERCOLUMN layers resampled to 1/4, h_fc1 and the two heads
        cols, h, k = {"data": column("data", data)}, data, 0
        convs = [n for n in models.HYPERCOLUMN if n.startswith("conv")]
        for n in models.BLOCKS:
            for name in convs[k:k + n]:
                h = conv(h, name, 1)
                cols[name] = column(name, h)
            k += n
            h = F.max_pool2d(h, 2, 2, ceil_mode=True)
        h = conv(h, "fc6", 3)
        cols["fc6"] = column("fc6", h)
        h = conv(h, "fc7", 0)
        cols["fc7"] = column("fc7", h)
        hyper = torch.cat([cols[n] for n in models.HYPERCOLUMN], dim=1)
        h = conv(hyper, "h_fc1", 0)
        ph = torch.softmax(F.conv2d(h, W["prediction_h"][0], W["prediction_h"][1]), dim=1)
        pc = torch.softmax(F.conv2d(h, W["prediction_c"][0], W["prediction_c"][1]), dim=1)
        # both histograms back on the host, as net.forward returns them
        return up(ph, "prediction_h_full_reshaped").cpu(), up(pc, "prediction_c_full_reshaped").cpu()

    with torch.inference_mode():
        forward(torch.from_numpy(x).to(device))
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            out, _ = forward(torch.from_numpy(x).to(device))
            times.append(time.perf_counter() - t)
    result = {"times": times, "out": out.numpy(), "version": torch.__version__}
    if device == "cuda":
        result["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
        free, total = torch.cuda.mem_get_info()
        result["gpu_used_mb"] = (total - free) / 2**20
    return result



# ---- GPU: training throughput, dense inference, memory ------------------------------------------

TRAIN_BATCH, TRAIN_CROP, TRAIN_SAMPLES = 8, 256, 128


def train_batches(n, scratch=False, seed=0):
    """Synthetic batches for the hue/chroma training net (data loading is not what is measured);
    scratch adds the from-scratch net's chroma_weight."""
    rng = np.random.RandomState(seed)
    out = []
    for _ in range(n):
        k = TRAIN_BATCH * TRAIN_SAMPLES
        hist = lambda: np.eye(32, dtype=np.float32)[rng.randint(0, 32, k)]  # noqa: E731
        out.append({"data": rng.rand(TRAIN_BATCH, 1, TRAIN_CROP, TRAIN_CROP).astype(np.float32),
                    "centroids": rng.randint(16, TRAIN_CROP - 16, (TRAIN_BATCH, TRAIN_SAMPLES, 2)).astype(np.float32),
                    "hist_h": hist(), "hist_c": hist(), "chroma": rng.rand(k).astype(np.float32)})
        if scratch:
            out[-1]["chroma_weight"] = rng.rand(k).astype(np.float32)
    return out


def train_prototxt(scratch, batch=TRAIN_BATCH, crop=TRAIN_CROP, samples=TRAIN_SAMPLES):
    """The ImageNet-initialised training net (trunk drawn at random here: only speed is measured) or
    the from-scratch one (models.scratch_net: BatchNorm, lightness-weighted chroma loss)."""
    from pycolorize import models

    if scratch:
        return models.scratch_net(batch=batch, crop=crop, samples=samples)
    return models.train_net("hue_chroma", batch=batch, crop=crop, samples=samples, trunk_filler='type: "msra"')


def same_outputs(ours, theirs, tol=5e-3):
    """The largest difference of the two frameworks' outputs (histograms in [0, 1]); past `tol` the
    PyTorch net is not the prototxt's, and the timing would compare different work."""
    diff = float(np.abs(ours["out"] - theirs["out"]).max())
    if not diff <= tol:
        raise CommandError(f"PyTorch's output differs from pycolorize's by {diff:.3g} (more than {tol:g}): "
                           "the benchmark's PyTorch net is not the network of the prototxt")
    return diff


def check_twin(torch_shapes, prototxt):
    """The PyTorch twin must time the same network: its learned tensors, in order, have the shapes of
    the prototxt's weights and biases (BatchNorm's statistics aside)."""
    import pycolorize

    net = pycolorize.Net.from_string(prototxt, phase="train")
    kinds = {layer.name: layer.type for layer in net.layers}
    ours = [tuple(b.shape) for name, blobs in net.params.items() if kinds[name] != "BatchNorm" for b in blobs]
    if [tuple(s) for s in torch_shapes] != ours:
        raise CommandError(f"the PyTorch benchmark net differs from the prototxt's: {len(torch_shapes)} tensors "
                           f"{[tuple(s) for s in torch_shapes][:4]}... vs {len(ours)} {ours[:4]}...")


def gpu_train_ours(iters, tf32, profile=False, scratch=False):
    import tempfile

    import pycolorize
    from pycolorize import models

    pycolorize.set_mode_gpu()
    pycolorize.set_allow_tf32(tf32)
    with tempfile.TemporaryDirectory() as tmp:
        net = os.path.join(tmp, "train.prototxt")
        with open(net, "w") as f:
            f.write(train_prototxt(scratch))
        with open(os.path.join(tmp, "solver.prototxt"), "w") as f:
            f.write(models.solver_text(net, base_lr=1e-4))
        solver = pycolorize.Solver(os.path.join(tmp, "solver.prototxt"))
    batches = train_batches(4, scratch)
    blobs = solver.net.blobs

    def step(i):
        for k, v in batches[i % len(batches)].items():
            blobs[k].data[...] = v  # host to device every iteration, as real training does
        return solver.step(1)

    for i in range(3):  # warm-up: allocation and cuDNN's algorithm search
        step(i)
    pycolorize.synchronize()
    t = time.perf_counter()
    for i in range(iters):
        loss = step(i)
    pycolorize.synchronize()
    dt = time.perf_counter() - t
    mem = pycolorize.gpu_memory()
    res = {"images_per_s": TRAIN_BATCH * iters / dt, "loss": float(loss), "gpu_peak_mb": mem["peak_allocated"] / 2**20,
           "gpu_used_mb": (mem["device_total"] - mem["device_free"]) / 2**20}
    if profile:
        res["profile"] = gpu_train_profile(solver.net, dt / iters)
    return res


def gpu_train_profile(net, step_s, reps=3):
    """Where a training step's time goes: each layer's forward and backward timed alone (the
    device synchronised around it), summed by layer type; the rest of the step (data upload, SGD
    update, launch gaps) is what remains of the measured step time."""
    from pycolorize import synchronize as sync

    per = {}

    def timed(key, fn):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        per[key] = per.get(key, 0.0) + (time.perf_counter() - t) / reps

    for _ in range(reps):
        for i, layer in enumerate(net.layers):
            timed(layer_kind(layer) + " fwd", lambda: net.forward_layers(i, i))
        for i, layer in reversed(list(enumerate(net.layers))):
            timed(layer_kind(layer) + " bwd", lambda: net.backward_layers(i, i))
    per["rest of the step (upload, SGD update, gaps)"] = step_s - sum(per.values())
    return per


def torch_train_net(scratch=False):
    """The PyTorch twin of the training net (train_prototxt), for the GPU benchmark; built from
    pycolorize.models' description, and checked against the prototxt (check_twin)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from pycolorize import models

    class ColorizeNet(nn.Module):
        """The same training net: VGG-16 gray, fc6 7x7 / fc7 1x1 convolutions with dropout, the
        sparse hypercolumn of 16 layers sampled with the released clamp and bilinear rule, h_fc1
        with dropout, hue and chroma heads; for scratch, BatchNorm without affine parameters after
        every trunk convolution (as models.scratch_net)."""

        def __init__(self):
            super().__init__()
            chans, cin = [], 1
            for block, n in enumerate(models.BLOCKS):
                for _ in range(n):
                    chans.append((cin, models.VGG16["conv"][block]))
                    cin = models.VGG16["conv"][block]
            self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in chans)
            fc, h_fc1, (_, kh), (_, kc) = models.VGG16["fc"], models.VGG16["h_fc1"], *models.HEADS["hue_chroma"]
            self.fc6, self.fc7 = nn.Conv2d(cin, fc, 7, padding=3), nn.Conv2d(fc, fc, 1)
            norm = (lambda c: nn.BatchNorm2d(c, affine=False, momentum=0.001)) if scratch else (lambda c: nn.Identity())
            self.bns = nn.ModuleList(norm(b) for _, b in chans + [(cin, fc), (fc, fc)])
            self.h_fc1 = nn.Linear(sum(models.channels()), h_fc1)
            self.pred_h, self.pred_c = nn.Linear(h_fc1, kh), nn.Linear(h_fc1, kc)

        @staticmethod
        def sample(f, cent, s):
            n, c, h, w = f.shape
            off = (s - 1) / 2
            ly = ((cent[..., 0] - off) / s).clamp(0, h - 1.0001)
            lx = ((cent[..., 1] - off) / s).clamp(0, w - 1.0001)
            y0, x0 = ly.long(), lx.long()
            wy1, wx1 = (ly - y0)[..., None], (lx - x0)[..., None]
            ff = f.permute(0, 2, 3, 1)
            i = torch.arange(n, device=f.device)[:, None]
            v = ((1 - wy1) * ((1 - wx1) * ff[i, y0, x0] + wx1 * ff[i, y0, x0 + 1])
                 + wy1 * ((1 - wx1) * ff[i, y0 + 1, x0] + wx1 * ff[i, y0 + 1, x0 + 1]))
            return v.reshape(n * cent.shape[1], c)

        def forward(self, data, cent):
            feats, h, k = [data], data, 0
            for n in models.BLOCKS:
                for _ in range(n):
                    h = F.relu(self.bns[k](self.convs[k](h)))
                    feats.append(h)
                    k += 1
                h = F.max_pool2d(h, 2, 2, ceil_mode=True)
            h = F.dropout(F.relu(self.bns[-2](self.fc6(h))), 0.5, self.training)
            feats.append(h)
            h = F.dropout(F.relu(self.bns[-1](self.fc7(h))), 0.5, self.training)
            feats.append(h)
            hc = torch.cat([self.sample(f, cent, s) for f, s in zip(feats, models.STRIDES)], dim=1)
            h = F.dropout(F.relu(self.h_fc1(hc)), 0.5, self.training)
            return self.pred_h(h), self.pred_c(h)

    net = ColorizeNet()
    check_twin([p.shape for p in net.parameters()], train_prototxt(scratch, batch=1, crop=64, samples=1))
    return net


def gpu_train_torch(iters, tf32, scratch=False):
    import torch
    import torch.nn.functional as F

    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True  # the counterpart of our cached cuDNN algorithm search
    dev = "cuda"

    def kld(x, q, m=None):
        t = F.log_softmax(x, dim=1) - torch.log(q.clamp_min(torch.finfo(torch.float32).tiny))
        per = -(q * t).sum(1)
        return (per * m).mean() if m is not None else per.mean()

    net = torch_train_net(scratch).to(dev).train()
    weights = [p for n, p in net.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in net.named_parameters() if n.endswith("bias")]
    opt = torch.optim.SGD([{"params": weights, "weight_decay": 5e-4}, {"params": biases, "lr": 2e-4, "weight_decay": 0}],
                          lr=1e-4, momentum=0.9)
    batches = train_batches(4, scratch)

    def step(i):
        b = {k: torch.from_numpy(v).to(dev) for k, v in batches[i % len(batches)].items()}
        opt.zero_grad(set_to_none=False)
        ph, pc = net(b["data"], b["centroids"])
        loss = 5 * kld(ph, b["hist_h"], b["chroma"]) + kld(pc, b["hist_c"], b.get("chroma_weight"))
        loss.backward()
        opt.step()
        return loss

    for i in range(3):
        step(i)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    for i in range(iters):
        loss = step(i)
    torch.cuda.synchronize()
    dt = time.perf_counter() - t
    free, total = torch.cuda.mem_get_info()
    return {"images_per_s": TRAIN_BATCH * iters / dt, "loss": float(loss),
            "gpu_peak_mb": torch.cuda.max_memory_allocated() / 2**20, "gpu_used_mb": (total - free) / 2**20,
            "version": torch.__version__}


def gpu_worker(args):
    tf32 = bool(args.tf32)
    if args.worker.endswith("-torch"):
        import torch

        torch.cuda.set_device(args.device)  # "cuda" below means this device
    else:
        import pycolorize

        pycolorize.use_gpu(args.device)
    if args.worker.startswith("train-"):
        scratch = "-scratch-" in args.worker
        res = (gpu_train_ours(args.runs, tf32, args.profile, scratch) if args.worker.endswith("-ours")
               else gpu_train_torch(args.runs, tf32, scratch))
    else:
        if args.worker == "infer-torch":
            import torch

            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cudnn.benchmark = True
        else:
            import pycolorize

            pycolorize.set_allow_tf32(tf32)
        x = np.random.RandomState(1).rand(1, 1, args.size, args.size).astype(np.float32)
        fn = run_ours if args.worker == "infer-ours" else run_torch
        res = fn(args.size, args.runs, args.weights, x, False, device="cuda",
                 **({"prototxt": args.prototxt} if args.worker == "infer-ours" else {}))
        np.save(args.out + ".npy", res.pop("out"))
    with open(args.out, "w") as f:
        json.dump(res, f)


def gpu_spawn(kind, args, weights, tmp, runs):
    out = os.path.join(tmp, f"{kind}.json")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--size", "512", "--runs", str(runs),
           "--weights", weights, "--prototxt", args.prototxt, "--device", str(args.gpu), "--out", out] + \
        (["--tf32"] if args.tf32 else []) + (["--profile"] if args.profile else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
    with open(out) as f:
        res = json.load(f)
    if os.path.exists(out + ".npy"):
        res["out"] = np.load(out + ".npy")
    return res, None


def check_gpu(device_id):
    """pycolorize.use_gpu's checks, without selecting the device: this process creates no CUDA
    context, so the workers' device-memory figures are their own."""
    import pycolorize

    if not pycolorize.cuda_compiled():
        raise CommandError(f"--gpu {device_id}: this build of pycolorize has no CUDA support")
    count = pycolorize.gpu_count()
    if not 0 <= device_id < count:
        raise CommandError(f"--gpu {device_id}: " + ("no CUDA device is visible" if count == 0 else
                                                    f"there {'is 1 CUDA device' if count == 1 else f'are {count} CUDA devices'}"))


def gpu_main(args, have_torch, say):
    import pycolorize

    check_gpu(args.gpu)
    name = pycolorize.gpu_name(args.gpu)
    prec = "TF32" if args.tf32 else "FP32 (TF32 off in both)"
    say(f"pycolorize {pycolorize.__version__} on {name} (device {args.gpu}), {prec}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "random.caffemodel.h5")
        make_weights(weights, args.prototxt)
        for what, ours_kind, torch_kind, runs in (("training", "train-ours", "train-torch", args.train_iters),
                                                  ("inference 512", "infer-ours", "infer-torch", args.runs),
                                                  ("from-scratch training", "train-scratch-ours", "train-scratch-torch",
                                                   args.train_iters)):
            ours, err = gpu_spawn(ours_kind, args, weights, tmp, runs)
            if ours is None:
                raise CommandError(f"the pycolorize {what} worker failed: {err}")
            theirs, terr = gpu_spawn(torch_kind, args, weights, tmp, runs) if have_torch else (None, "not installed")
            rows.append((what, ours, theirs, terr))
    train_rows(rows[0], f"\n(a) training, full net (VGG-16 gray + 16-layer sparse hypercolumn, {TRAIN_SAMPLES} samples/image, "
               f"batch {TRAIN_BATCH}, {TRAIN_CROP}x{TRAIN_CROP}), data upload and SGD step included, {args.train_iters} timed iterations")
    inf = rows[1]
    t_ours = float(np.median(inf[1]["times"]))
    print(f"\n(b) dense inference 512x512 (deploy net, host input and both outputs back on the host), median of {args.runs}")
    print(f"    pycolorize {1000 * t_ours:8.1f} ms   peak {inf[1]['gpu_peak_mb']:7.0f} MB (own)  device {inf[1]['gpu_used_mb']:7.0f} MB")
    if inf[2]:
        t_th = float(np.median(inf[2]["times"]))
        diff = same_outputs(inf[1], inf[2])
        print(f"    PyTorch    {1000 * t_th:8.1f} ms   peak {inf[2]['gpu_peak_mb']:7.0f} MB (allocator)  device "
              f"{inf[2]['gpu_used_mb']:7.0f} MB   ->  latency ratio ours/PyTorch {t_ours / t_th:.2f}x (below 1 = "
              f"pycolorize faster); outputs agree to {diff:.1e}")
        print(f"\nPyTorch {inf[2].get('version', '')}")
    else:
        print(f"    PyTorch: {inf[3]}")
    train_rows(rows[2], "\n(c) from-scratch training (models.scratch_net: BatchNorm after every trunk convolution, "
                        "lightness-weighted chroma loss), the same sizes, beside (a)")
    print(f"    from scratch / ImageNet-initialised (pycolorize): {rows[2][1]['images_per_s'] / rows[0][1]['images_per_s']:.2f}x")
    print("(d) memory: 'own' = pycolorize's device allocations (blobs, buffers, cuDNN workspace); 'allocator' = "
          "torch.cuda.max_memory_allocated(); 'device' = used memory of the whole process (context included)")


def train_rows(row, title):
    """Print one training comparison of gpu_main: ours, PyTorch's and the ratio, and our profile."""
    _, ours, theirs, err = row
    print(title)
    print(f"    pycolorize {ours['images_per_s']:8.1f} images/s   peak {ours['gpu_peak_mb']:7.0f} MB (own)  "
          f"device {ours['gpu_used_mb']:7.0f} MB")
    if theirs:
        print(f"    PyTorch    {theirs['images_per_s']:8.1f} images/s   peak {theirs['gpu_peak_mb']:7.0f} MB (allocator)  "
              f"device {theirs['gpu_used_mb']:7.0f} MB   ->  throughput ratio ours/PyTorch "
              f"{ours['images_per_s'] / theirs['images_per_s']:.2f}x (above 1 = pycolorize faster)")
    else:
        print(f"    PyTorch: {err}")
    if "profile" in ours:
        prof = ours["profile"]
        total = sum(prof.values())
        print(f"    where a pycolorize step goes ({1000 * total:.1f} ms), layers timed one at a time:")
        for k, v in sorted(prof.items(), key=lambda kv: -kv[1])[:14]:
            print(f"      {k:44s} {1000 * v:7.2f} ms  {100 * v / total:5.1f} %")


def worker(args):
    threads = args.threads
    if args.worker == "torch":
        import torch

        torch.set_num_threads(threads)
    else:
        import pycolorize

        pycolorize.set_num_threads(threads)
    x = np.random.RandomState(1).rand(1, 1, args.size, args.size).astype(np.float32)
    fn = run_ours if args.worker == "ours" else run_torch
    res = fn(args.size, args.runs, args.weights, x, args.profile, **({"prototxt": args.prototxt} if args.worker == "ours" else {}))
    np.save(args.out + ".npy", res.pop("out"))
    res["peak_rss_mb"] = peak_rss_mb()
    with open(args.out, "w") as f:
        json.dump(res, f)


def spawn(kind, size, args, weights, tmp):
    out = os.path.join(tmp, f"{kind}_{size}.json")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--size", str(size), "--runs", str(args.runs),
           "--threads", str(args.threads), "--weights", weights, "--prototxt", args.prototxt, "--out", out] + \
        (["--profile"] if args.profile else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
    with open(out) as f:
        res = json.load(f)
    res["out"] = np.load(out + ".npy")
    return res, None


def worker_main(argv=None):
    """A worker process (spawned by run(), never by hand): one framework, one measurement, a JSON file."""
    ap = argparse.ArgumentParser(prog="pycolorize benchmark worker")
    ap.add_argument("--worker", required=True, choices=["ours", "torch", "train-ours", "train-torch", "train-scratch-ours", "train-scratch-torch",
                                                    "infer-ours", "infer-torch"])
    ap.add_argument("--size", type=int)
    ap.add_argument("--runs", type=int)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--weights")
    ap.add_argument("--prototxt")
    ap.add_argument("--device", type=int, default=0)
    ap.add_argument("--out")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--tf32", action="store_true")
    args = ap.parse_args(argv)
    if args.worker.startswith(("train-", "infer-")):
        return gpu_worker(args)
    return worker(args)


def run(args):
    say = (lambda *a: None) if args.quiet else print
    for s in args.sizes:
        if s % 32:
            args._parser.error(f"size {s} is not a multiple of 32 (the dense net's pooling and upsampling need it)")
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError as e:
        have_torch = False
        say(f"PyTorch not available ({e}); skipping the comparison (pip install torch to enable it)")
    args.prototxt = repo_path(args, DEPLOY)
    if args.gpu is not None:
        return gpu_main(args, have_torch, say)
    import pycolorize

    say(f"pycolorize {pycolorize.__version__}, dense deploy net {args.prototxt}, "
          f"{args.threads} thread(s), median of {args.runs} forward passes, batch 1")
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "random.caffemodel.h5")
        make_weights(weights, args.prototxt)
        rows = []
        for size in args.sizes:
            ours, err = spawn("ours", size, args, weights, tmp)
            if ours is None:
                raise CommandError(f"the pycolorize worker failed at {size}: {err}")
            theirs, terr = spawn("torch", size, args, weights, tmp) if have_torch else (None, "not installed")
            rows.append((size, ours, theirs, terr))
        print()
        print(f"{'size':>9} | {'pycolorize':>11} | {'PyTorch':>9} | {'ratio':>6} | {'peak RSS ours':>13} | {'peak RSS torch':>14} | max |diff|")
        print("-" * 95)
        for size, ours, theirs, terr in rows:
            t_ours = float(np.median(ours["times"]))
            if theirs:
                t_th = float(np.median(theirs["times"]))
                diff = same_outputs(ours, theirs)
                print(f"{size:>4}x{size:<4} | {t_ours:>9.3f} s | {t_th:>7.3f} s | {t_ours / t_th:>5.2f}x | "
                      f"{ours['peak_rss_mb']:>10.0f} MB | {theirs['peak_rss_mb']:>11.0f} MB | {diff:.2e}")
            else:
                print(f"{size:>4}x{size:<4} | {t_ours:>9.3f} s | {'-':>9} | {'-':>6} | {ours['peak_rss_mb']:>10.0f} MB | "
                      f"{'-':>14} | (PyTorch: {terr})")
        if rows and rows[0][2]:
            print(f"\nratio = pycolorize time / PyTorch {rows[0][2]['version']} time (below 1 = pycolorize faster)")
        if args.profile:
            for size, ours, _, _ in rows:
                prof = ours["profile"]
                total = sum(prof.values())
                print(f"\nwhere pycolorize's forward time goes at {size}x{size} (one layer-by-layer pass, {total:.3f} s):")
                for k, v in sorted(prof.items(), key=lambda kv: -kv[1]):
                    print(f"  {k:<22} {v:>7.3f} s  {100 * v / total:5.1f} %")
    return 0


if __name__ == "__main__":
    worker_main()
