"""`pycolorize benchmark` (also `python tools/benchmark.py`): our networks beside the same networks in
PyTorch, on the CPU or (--gpu) a CUDA device: the dense forward pass, a training step, and a large
photograph colorized end to end.

Each measurement runs in a fresh worker process (`python -m pycolorize.cli.benchmark.worker`, so its
peak memory is its own), which imports the same copy of pycolorize as the command that spawned it.
The training step of both frameworks is in pycolorize/cli/benchmark/train.py."""
import argparse
import json
import os
import resource
import subprocess
import tempfile
import time

import numpy as np

from pycolorize.cli import DEPLOY_PROTOTXT, EXIT_CODES, CommandError, add_quiet, repo_path
from pycolorize.util.spawn import python_command

HEAD = "prediction_h_full"
PARTS = ("forward", "train", "photo", "scaling", "loader")
DEFAULT_PARTS = ("forward", "train", "photo")  # scaling: only when asked (it runs 2 MPI ranks)

SUMMARY = "time the dense net, a training step and a large photo beside PyTorch (CPU, or --gpu)"

DESCRIPTION = """\
Benchmarks of the authors' full-size colorization network (prototxt/colorize_deploy.prototxt:
VGG-16 gray, 12,417-channel hypercolumn at 1/4 resolution, h_fc1, hue/chroma heads; random
weights), each measured in a fresh process of its own, beside PyTorch in the same run:

  forward  the dense forward pass at --sizes (batch 1, median of --runs), beside two PyTorch
           graphs of the same net: the Caffe-style one (Reshape -> single-channel bilinear
           ConvTranspose2d -> Reshape, as the prototxt) and grouped ConvTranspose2d for the
           upsampling (one group per channel; the faster graph a PyTorch user would write); with
           --gpu also grouped with channels_last, and torch.compile with --torch-compile. Both
           outputs are checked to agree; the ratio is against the fastest PyTorch graph.
  train    a training step of the full training net (forward, backward, SGD with momentum and
           weight decay; 128 samples per image; CPU: batch 4 of 224x224, --gpu: batch 8 of
           256x256, and the from-scratch BatchNorm net beside it) beside the same step in PyTorch
           (torch.optim.SGD; on the GPU with cudnn.benchmark, NCHW and channels_last).
  photo    a --photo sized photograph (default 6000x4000, 24 megapixels: scikit-image's coffee
           photo resized up, or a synthetic one without scikit-image) written as a PNG, then
           colorized by `python -m pycolorize colorize PNG -o OUT.png --timings` at the released
           512 canvas, the whole command as a user runs it: its wall time, the parts it reports
           (decode, the network and its forward pass, upsampling and colour, encode, the model's
           load) and the peak resident memory of that process.

Memory: the peak resident memory of the worker process (VmHWM) above its idle level, taken after
its imports; it counts the weights (588 MB), their HDF5 load, the blobs and buffers, and what the
call returns (for `photo`: the whole colorize process's peak, interpreter and all). With --gpu:
device memory (ours: own allocations; PyTorch: its allocator's peak).

PyTorch is optional (PyPI's `torch` wheel is a large download but runs on the CPU); without it
the comparisons are skipped and only our figures are printed. Precision: FP32 in both (TF32 in
both with --tf32). pycolorize has no reduced precision yet, so no autocast/BF16 comparison."""

EPILOG = f"""\
examples:
  pycolorize benchmark                             # CPU: forward 256 and 512, training step, 24 MP photo
  pycolorize benchmark --parts forward --sizes 512 --profile   # where our forward time goes, by layer type
  pycolorize benchmark --parts train --profile     # the CPU training step and where its time goes
  pycolorize benchmark --parts train --train-rounds 3   # a busy host: alternate the frameworks, fastest of each
  pycolorize benchmark --parts photo --photo 4000x2667
  pycolorize benchmark --gpu 0 --tf32              # CUDA device 0 (training and 512x512 inference), TF32 in both
  (`python tools/benchmark.py ...` takes the same arguments; a bare --gpu means device 0)

{EXIT_CODES}"""


def photo_size(text):
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 6000x4000; got {text!r}") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"the photo's sides must be positive; got {text!r}")
    return w, h


def count(text):
    """A whole number of at least 1 (argparse's type for counts of runs)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def add_arguments(ap):
    ap.add_argument("--parts", nargs="+", choices=PARTS, metavar="PART",
                    help="what to measure: forward, train, photo, scaling (the data-parallel estimate of "
                         "pycolorize.cli.benchmark.scaling: gradient bytes and backward time per layer, the projected 8-GPU "
                         "NVLink and 2x8 InfiniBand throughput, 2 MPI ranks measured here; needs pycolorize[mpi]), "
                         "loader (the training loader's images/s from JPEG files and from tar shards, 1 .. N workers, "
                         "beside PyTorch's DataLoader where PyTorch is installed) "
                         "(default: forward, train and photo on the CPU; train and forward with --gpu)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="CPU forward: input sides, multiples of 32 (--gpu: 512)")
    ap.add_argument("--runs", type=int, default=5, help="timed forward passes per size (median reported)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads of both frameworks")
    ap.add_argument("--profile", action="store_true", help="also print where our time goes by layer type (forward and training step)")
    # ID optional here (no positional it could swallow): tools/gpu_check.sh runs `--gpu` bare
    ap.add_argument("--gpu", type=int, nargs="?", const=0, metavar="ID",
                    help="benchmark on CUDA device ID (bare --gpu: 0): training throughput, 512x512 inference, memory")
    ap.add_argument("--tf32", action="store_true", help="with --gpu: allow TF32 in both frameworks")
    ap.add_argument("--train-iters", type=int, help="timed training steps (default: 3 on the CPU, 10 with --gpu)")
    ap.add_argument("--train-rounds", type=count, default=1, metavar="R",
                    help="training: R rounds alternating the frameworks, each side's fastest reported (default: 1)")
    ap.add_argument("--photo", type=photo_size, default=(6000, 4000), metavar="WxH",
                    help="the large photo's size, width x height (default: 6000x4000)")
    ap.add_argument("--torch-compile", action="store_true",
                    help="with --gpu: also time the PyTorch forward under torch.compile (minutes of compilation)")
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


# ---- memory of a worker process --------------------------------------------------------------------

def _status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise OSError(f"no {field} in /proc/self/status")


def peak_rss_mb():
    """This process's peak resident memory. VmHWM belongs to the process image (getrusage's
    ru_maxrss survives exec, so it would report the parent's peak)."""
    try:
        return _status_mb("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak():
    """The baseline of a worker's memory figures: Linux resets the high-water mark to the current
    resident size (clear_refs 5) and that size is returned; where it cannot, the peak so far."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_mb("VmRSS")
    except OSError:
        return peak_rss_mb()


# ---- the dense forward pass ------------------------------------------------------------------------

def run_ours(size, runs, weights, x, profile, device="cpu", prototxt=None):
    import pycolorize

    from pycolorize.cli.benchmark.train import layer_kind, layer_times

    if device == "cuda":
        pycolorize.set_mode_gpu()  # on the device the worker selected (pycolorize.use_gpu)
    # as the Colorizer builds it: for inference, with memory reuse
    net = pycolorize.Net(prototxt, weights=weights, reuse_memory=True)
    net.forward(data=x)  # warm-up (allocates every blob; on the GPU also picks cuDNN algorithms)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = net.forward(data=x)
        times.append(time.perf_counter() - t)
    result = {"times": times, "out": out[HEAD], "peak_rss_mb": peak_rss_mb()}
    if device == "cuda":
        mem = pycolorize.gpu_memory()
        result["gpu_peak_mb"] = mem["peak_allocated"] / 2**20
        result["gpu_used_mb"] = (mem["device_total"] - mem["device_free"]) / 2**20
    if profile:  # layer by layer, which needs every blob of its own (after the memory was taken)
        del net, out
        net = pycolorize.Net(prototxt, weights=weights)
        net.forward(data=x)
        fwd, _ = layer_times(net, backward=False)
        per_type = {}
        for i, layer in enumerate(net.layers):
            per_type[layer_kind(layer)] = per_type.get(layer_kind(layer), 0.0) + float(fwd[i])
        result["profile"] = per_type
    return result


def run_torch(size, runs, weights, x, profile, device="cpu", graph="caffe", channels_last=False, compile=False,
              prototxt=None):
    """The dense net in PyTorch, as pycolorize.export.to_torch builds it from `prototxt` (default: the
    released deploy net) with `weights` (torch_dense_net). graph "caffe": the prototxt's upsampling as
    written (Reshape to (N*C, 1, h, w), one single-channel bilinear ConvTranspose2d, Reshape back);
    "grouped": the same bilinear kernel as one ConvTranspose2d with a group per channel (the same
    numbers, one call on the (N, C, h, w) tensor). `channels_last` stores the input and the
    convolution weights NHWC; `compile` runs the forward under torch.compile."""
    import torch

    fmt = torch.channels_last if channels_last else torch.contiguous_format
    if prototxt is None:
        from pycolorize import models

        prototxt = models.prototxt_path(models.DEPLOY)
    net = torch_dense_net(prototxt, weights, device, graph, channels_last)
    fn = torch.compile(net) if compile else net

    def host(data):  # input from the host, every output back on the host, as net.forward returns them
        out = fn(torch.from_numpy(data).to(device).contiguous(memory_format=fmt))
        return {k: v.cpu() for k, v in out.items()}

    with torch.inference_mode():
        host(x)  # warm-up (with cudnn.benchmark: the algorithm search; with compile: the compilation)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            out = host(x)[HEAD]
            times.append(time.perf_counter() - t)
    result = {"times": times, "out": out.contiguous().numpy(), "version": torch.__version__}
    if device == "cuda":
        result["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
        free, total = torch.cuda.mem_get_info()
        result["gpu_used_mb"] = (total - free) / 2**20
    return result


def torch_dense_net(prototxt, weights, device="cpu", graph="caffe", channels_last=False):
    """The dense net of `prototxt` in PyTorch (pycolorize.export.to_torch, eval mode), on `device`;
    graph "grouped" rewrites each upsampling triple as a grouped ConvTranspose2d (grouped_upsampling)."""
    import torch

    from pycolorize.export import to_torch

    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = to_torch(prototxt, weights).eval()
    if graph == "grouped":
        grouped_upsampling(net, fmt)
    return net.to(device=device, memory_format=fmt)


def grouped_upsampling(net, memory_format=None):
    """Rewrite, in the to_torch module `net`, every Reshape {-1, 1} -> single-channel Deconvolution ->
    Reshape {-1, C} of the dense net as one ConvTranspose2d with a group per channel on the (N, C,
    h, w) blob (the two Reshapes pass it through): the faster graph a PyTorch user would write, the
    same kernel and so the same numbers. Returns how many it rewrote."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    memory_format = memory_format or torch.contiguous_format

    class Through(nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.caffe_name, self.caffe_type, self.bottoms, self.tops = layer.caffe_name, "Reshape", layer.bottoms, layer.tops

        def forward(self, x):
            return [x]

    class Grouped(nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.caffe_name, self.caffe_type, self.bottoms, self.tops = layer.caffe_name, "Deconvolution", layer.bottoms, layer.tops
            self.weight, self.stride, self.padding = layer.weight, layer.stride, layer.padding
            self.kernels = {}  # (channels, device) -> the kernel repeated per channel, made once (a user's nn.Parameter)

        def forward(self, x):
            c = x.shape[1]
            if (c, x.device) not in self.kernels:
                k = self.weight.to(x.device)
                self.kernels[c, x.device] = k.expand(c, 1, *k.shape[2:]).contiguous(memory_format=memory_format)
            return [F.conv_transpose2d(x, self.kernels[c, x.device], stride=self.stride, padding=self.padding, groups=c)]

    layers = net.layers
    producer = {top: key for key, layer in layers.items() for top in layer.tops}
    consumers = {}
    for key, layer in layers.items():
        for b in layer.bottoms:
            consumers.setdefault(b, []).append(key)
    done = 0
    for key, layer in list(layers.items()):
        if layer.caffe_type != "Deconvolution" or tuple(layer.weight.shape[:2]) != (1, 1) or layer.groups != 1:
            continue
        before, after = producer.get(layer.bottoms[0]), consumers.get(layer.tops[0], [])
        if (before is None or layers[before].caffe_type != "Reshape" or layers[before].dims != [-1, 1]
                or len(after) != 1 or layers[after[0]].caffe_type != "Reshape" or len(layers[after[0]].dims) != 2):
            continue
        layers[before], layers[key], layers[after[0]] = Through(layers[before]), Grouped(layer), Through(layers[after[0]])
        done += 1
    return done


def same_outputs(ours, theirs, tol=5e-3):
    """The largest difference of the two frameworks' outputs (histograms in [0, 1]); past `tol` the
    PyTorch net is not the prototxt's, and the timing would compare different work."""
    diff = float(np.abs(ours["out"] - theirs["out"]).max())
    if not diff <= tol:
        raise CommandError(f"PyTorch's output differs from pycolorize's by {diff:.3g} (more than {tol:g}): "
                           "the benchmark's PyTorch net is not the network of the prototxt")
    return diff


def torch_graphs(args):
    """The PyTorch graphs of the dense net timed beside ours: (label, worker options)."""
    graphs = [("PyTorch, Caffe-style reshape graph", ["--graph", "caffe"]),
              ("PyTorch, grouped ConvTranspose2d", ["--graph", "grouped"])]
    if args.gpu is not None:
        graphs.append(("PyTorch, grouped, channels_last", ["--graph", "grouped", "--channels-last"]))
        if args.torch_compile:
            graphs.append(("PyTorch, grouped, channels_last, compiled", ["--graph", "grouped", "--channels-last", "--compile"]))
    return graphs


def forward_part(args, weights, tmp, have_torch):
    """The dense forward: ours and each PyTorch graph at every size, the ratio against the fastest."""
    gpu = args.gpu is not None
    sizes = [512] if gpu else args.sizes
    unit, scale = ("ms", 1000.0) if gpu else ("s", 1.0)
    mem = "device memory" if gpu else "peak memory"
    print(f"\nDense forward, batch 1, median of {args.runs} passes (input from the host, both outputs back on the host); "
          f"{mem}: " + ("ours own allocations, PyTorch its allocator's peak" if gpu else "the process's peak above its idle level"))
    print(f"{'size':>9} | {'':<42} | {'time':>10} | {'ours / this':>11} | {mem:>13} | max |diff|")
    print("-" * 110)
    profiles, versions = [], []
    for size in sizes:
        ours, err = spawn("ours", args, weights, tmp, size=size)
        if ours is None:
            raise CommandError(f"the pycolorize worker failed at {size}: {err}")
        t_ours = float(np.median(ours["times"]))
        rows = []
        for label, flags in torch_graphs(args) if have_torch else ():
            theirs, terr = spawn("torch", args, weights, tmp, size=size, extra=flags)
            rows.append((label, theirs, terr, same_outputs(ours, theirs) if theirs else None))
        memory = (lambda r, own: f"{r['gpu_peak_mb']:>10.0f} MB") if gpu else (lambda r, own: f"{r['peak_mb']:>10.0f} MB")
        print(f"{size:>4}x{size:<4} | {'pycolorize':<42} | {scale * t_ours:>8.3f} {unit:<1} | {'':>11} | {memory(ours, True)} |")
        for label, theirs, terr, diff in rows:
            if theirs is None:
                print(f"{'':>9} | {label:<42} | failed: {terr}")
                continue
            t = float(np.median(theirs["times"]))
            print(f"{'':>9} | {label:<42} | {scale * t:>8.3f} {unit:<1} | {t_ours / t:>10.2f}x | {memory(theirs, False)} | {diff:.1e}")
        done = [(float(np.median(r[1]["times"])), r[0]) for r in rows if r[1]]
        if done:
            best, label = min(done)
            print(f"{'':>9} | ours / the fastest PyTorch graph ({label[9:]}): {t_ours / best:.2f}x (below 1 = pycolorize faster)")
        elif not have_torch:
            print(f"{'':>9} | PyTorch not installed: no comparison")
        versions = [r[1]["version"] for r in rows if r[1]]
        if "profile" in ours:
            profiles.append((size, ours["profile"]))
    if have_torch and versions:
        print(f"PyTorch {versions[0]}, {'CUDA' if gpu else f'{args.threads} thread(s) in both'}")
    for size, prof in profiles:
        total = sum(prof.values())
        print(f"\nwhere pycolorize's forward time goes at {size}x{size} (one layer-by-layer pass, {total:.3f} s):")
        for k, v in sorted(prof.items(), key=lambda kv: -kv[1]):
            print(f"  {k:<22} {v:>7.3f} s  {100 * v / total:5.1f} %")


# ---- the training step -----------------------------------------------------------------------------

def train_part(args, tmp, have_torch):
    """A training step of the full net in both frameworks (pycolorize.cli.benchmark.train); with --gpu
    also the from-scratch BatchNorm net."""
    from pycolorize.cli.benchmark.train import CPU_TRAIN, GPU_TRAIN

    gpu = args.gpu is not None
    spec = GPU_TRAIN if gpu else CPU_TRAIN
    iters = args.train_iters or (10 if gpu else 3)
    nets = [("", "full training net (VGG-16 gray + 16-layer sparse hypercolumn + h_fc1 + heads and losses)")]
    if gpu:
        nets.append(("scratch-", "from-scratch net (models.scratch_net: BatchNorm after every trunk convolution, "
                                 "lightness-weighted chroma loss)"))
    variants = [("PyTorch", [])] + ([("PyTorch, channels_last", ["--channels-last"])] if gpu else [])
    results = []
    for tag, what in nets:
        # Rounds alternate the frameworks (each in a fresh process), so that a busy host's slow
        # spells fall on both; each side's fastest round is reported.
        rounds = []
        for _ in range(args.train_rounds):
            ours, err = spawn(f"train-{tag}ours", args, None, tmp, runs=iters)
            if ours is None:
                raise CommandError(f"the pycolorize training worker failed: {err}")
            rows = [(label, *spawn(f"train-{tag}torch", args, None, tmp, runs=iters, extra=flags))
                    for label, flags in (variants if have_torch and not tag else variants[:1] if have_torch else ())]
            rounds.append((ours, rows))
        ours = max((o for o, _ in rounds), key=lambda o: o["images_per_s"])
        rows = [_fastest([r[i] for _, r in rounds]) for i in range(len(rounds[0][1]))]
        runs = f"{iters} timed steps" + (f", the fastest of {len(rounds)} alternating rounds" if len(rounds) > 1 else "")
        print(f"\nTraining step, {what}: batch {spec['batch']} of {spec['crop']}x{spec['crop']}, {spec['samples']} samples "
              f"per image, forward + backward + SGD (momentum, weight decay) with the data in, {runs}")
        train_rows(ours, rows, gpu, have_torch)
        if len(rounds) > 1 and all(t for _, r in rounds for _, t, _ in r):
            ratios = [o["images_per_s"] / max(t["images_per_s"] for _, t, _ in r) for o, r in rounds]
            print(f"    each round's ours / its fastest PyTorch: {', '.join(f'{x:.2f}x' for x in ratios)}")
        results.append(ours)
    if gpu and len(results) == 2:
        print(f"    from scratch / ImageNet-initialised (pycolorize): {results[1]['images_per_s'] / results[0]['images_per_s']:.2f}x")


def _fastest(rows):
    """One PyTorch variant's rounds, (label, result or None, error): its fastest result, else its first failure."""
    done = [r for r in rows if r[1] is not None]
    return max(done, key=lambda r: r[1]["images_per_s"]) if done else rows[0]


def train_rows(ours, rows, gpu, have_torch):
    """Print one training comparison: ours, each PyTorch variant and the ratio, and our profile."""
    def mem(r, own):
        if gpu:
            return f"peak {r['gpu_peak_mb']:7.0f} MB ({'own' if own else 'allocator'})  device {r['gpu_used_mb']:7.0f} MB"
        return f"peak memory {r['peak_mb']:7.0f} MB"

    print(f"    {'pycolorize':<24} {ours['images_per_s']:8.2f} images/s ({ours['step_s']:.3f} s/step)   {mem(ours, True)}")
    best = None
    for label, theirs, err in rows:
        if theirs is None:
            print(f"    {label}: failed: {err}")
            continue
        print(f"    {label:<24} {theirs['images_per_s']:8.2f} images/s ({theirs['step_s']:.3f} s/step)   {mem(theirs, False)}"
              f"   ours/this {ours['images_per_s'] / theirs['images_per_s']:.2f}x")
        if best is None or theirs["images_per_s"] > best[1]["images_per_s"]:
            best = (label, theirs)
    if best:
        print(f"    -> throughput ours / the fastest PyTorch ({best[0]}, {best[1]['version']}): "
              f"{ours['images_per_s'] / best[1]['images_per_s']:.2f}x (above 1 = pycolorize faster)")
    elif not have_torch:
        print("    PyTorch not installed: no comparison")
    if "profile" in ours:
        prof = ours["profile"]
        total = sum(prof.values())
        unit, scale = ("ms", 1000.0) if gpu else ("s", 1.0)
        print(f"    where a pycolorize step goes ({scale * total:.3f} {unit}), layers timed one at a time:")
        for k, v in sorted(prof.items(), key=lambda kv: -kv[1])[:16]:
            print(f"      {k:44s} {scale * v:9.3f} {unit}  {100 * v / total:5.1f} %")


# ---- a large photograph ----------------------------------------------------------------------------

def make_photo(width, height):
    """(RGB uint8 photo of width x height, what it is): scikit-image's coffee photograph (600x400)
    resized up bilinearly with Pillow; without scikit-image a smooth synthetic colour image."""
    from PIL import Image

    from pycolorize.data.samples import sample_photo

    try:
        small, what = sample_photo("coffee"), "scikit-image's coffee photo resized up"
    except ImportError:
        y, x = np.mgrid[0:400, 0:600] / 400.0
        small = (127.5 * (1 + np.stack([np.sin(3 * x + y), np.cos(2 * y - x), np.sin(x * y * 4)], -1))).astype(np.uint8)
        what = "a synthetic smooth colour image"
    return np.asarray(Image.fromarray(small).resize((width, height), Image.BILINEAR)), what


def write_photo(path, width, height):
    """make_photo's photo written to `path` as a PNG (zlib level 1), as a user's file would be; what it is."""
    from PIL import Image

    photo, what = make_photo(width, height)
    Image.fromarray(photo).save(path, compress_level=1)
    return what


TIMED_PARTS = ("model", "decode", "network", "forward", "colour", "encode")


def run_photo(prototxt, weights, photo, out, size, threads, gpu=None):
    """`python -m pycolorize colorize PHOTO -o OUT --timings` as a user runs it, in a fresh process of
    this copy of pycolorize: {"total_s": its wall time, "peak_mb": its peak resident memory (the whole
    process: interpreter, weights, network, the photo), and "<part>_s" for each part its --timings
    lines report (TIMED_PARTS)}. OMP_NUM_THREADS = `threads` (the network's and the colour's
    threads); `gpu`: the command's --gpu. The peak is the one the command reports, its VmHWM: the
    child's ru_maxrss (os.wait4) would count this process's own peak too (it survives the fork and
    exec, and this process may have held the weights), so it is the fallback only where no VmHWM is."""
    import re
    import sys

    cmd = python_command("pycolorize") + ["colorize", photo, "-o", out, "--prototxt", prototxt, "--weights", weights,
                                          "--size", str(size), "--timings", "--overwrite", "--max-megapixels", "0"]
    cmd += ["--gpu", str(gpu)] if gpu is not None else []
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env, text=True)
        if hasattr(os, "wait4"):  # this child's own resource usage (RUSAGE_CHILDREN would be the largest child's so far)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        else:
            proc.wait()
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        total_s = time.perf_counter() - start
        stdout.seek(0)
        stderr.seek(0)
        text, err = stdout.read(), stderr.read()
    if proc.returncode != 0:
        raise CommandError(f"`pycolorize colorize` on the photo failed (exit {proc.returncode}): "
                           f"{(err.strip().splitlines() or ['no message'])[-1]}")
    # ru_maxrss: kilobytes on Linux, bytes on macOS
    res = {"total_s": total_s, "peak_mb": usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)}
    reported = re.search(r"peak memory ([0-9.]+) MB", text)
    if reported:
        res["peak_mb"] = float(reported.group(1))
    for part, seconds in re.findall(r"\b(" + "|".join(TIMED_PARTS) + r") ([0-9.]+) s\b", text):
        res[part + "_s"] = res.get(part + "_s", 0.0) + float(seconds)
    missing = [p for p in TIMED_PARTS if p + "_s" not in res]
    if missing:
        raise CommandError(f"`pycolorize colorize --timings` printed no {', '.join(missing)} time: {text.strip()!r}")
    return res


def photo_part(args, weights, tmp, canvas=512):
    """A --photo sized PNG colorized by `pycolorize colorize` at the released canvas size (512), the
    whole command in a fresh process: wall time, its parts, peak resident memory."""
    w, h = args.photo
    src, out = os.path.join(tmp, f"photo_{w}x{h}.png"), os.path.join(tmp, f"photo_{w}x{h}_color.png")
    what = write_photo(src, w, h)
    res = run_photo(args.prototxt, weights, src, out, canvas, args.threads, args.gpu)
    rest = res["total_s"] - sum(res[p + "_s"] for p in TIMED_PARTS if p != "forward")
    print(f"\nLarge photo: {w}x{h} ({w * h / 1e6:.1f} megapixels, {what}) in a PNG, `pycolorize colorize` "
          f"({os.path.basename(args.prototxt)}, size={canvas}) on the {'GPU' if args.gpu is not None else 'CPU'}: "
          f"the whole command in a fresh process")
    print(f"    total {res['total_s']:.2f} s = decode {res['decode_s']:.2f} s + the network {res['network_s']:.2f} s "
          f"(its forward at {canvas}x{canvas} {res['forward_s']:.2f} s) + upsampling and colour {res['colour_s']:.2f} s "
          f"+ encode {res['encode_s']:.2f} s + the model's load {res['model_s']:.2f} s + start-up and the rest {rest:.2f} s")
    print(f"    outside the network {res['total_s'] - res['network_s']:.2f} s; the photo alone (decode, colour, encode) "
          f"{res['decode_s'] + res['colour_s'] + res['encode_s']:.2f} s")
    print(f"    peak memory {res['peak_mb']:.0f} MB, the whole process's resident peak (weights, network, the photo's "
          f"float32 lightness and 8-bit output; the colour is made in bands of rows, no returned float32 image)")


# ---- workers ---------------------------------------------------------------------------------------

def worker(args):
    """One measurement in this fresh process; its results as JSON (and an output array as .npy)."""
    cuda = args.device is not None
    if "torch" in args.worker:
        import torch
        import torch.nn.functional  # noqa: F401  (imported before the idle level, as is pycolorize)

        from pycolorize.cli.benchmark import train as benchmark_train
        from pycolorize import models
        from pycolorize.engine import weights  # noqa: F401

        if cuda:
            torch.cuda.set_device(args.device)  # "cuda" below means this device
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = bool(args.tf32)
            torch.backends.cudnn.benchmark = True  # the counterpart of our cached cuDNN algorithm search
        else:
            torch.set_num_threads(args.threads)
    else:
        import pycolorize
        from pycolorize.cli.benchmark import train as benchmark_train  # noqa: F401

        if cuda:
            pycolorize.use_gpu(args.device)
            pycolorize.set_allow_tf32(bool(args.tf32))
        else:
            pycolorize.set_num_threads(args.threads)
    idle = reset_peak()
    device = "cuda" if cuda else "cpu"
    if args.worker.startswith("train-"):
        from pycolorize.cli.benchmark import train as bt

        spec = bt.GPU_TRAIN if cuda else bt.CPU_TRAIN
        scratch = "-scratch-" in args.worker
        res = (bt.train_ours(args.runs, **spec, cuda=cuda, tf32=args.tf32, profile=args.profile, scratch=scratch)
               if args.worker.endswith("-ours") else
               bt.train_torch(args.runs, **spec, cuda=cuda, tf32=args.tf32, scratch=scratch, channels_last=args.channels_last))
    else:
        x = np.random.RandomState(1).rand(1, 1, args.size, args.size).astype(np.float32)
        if args.worker == "ours":
            res = run_ours(args.size, args.runs, args.weights, x, args.profile, device, prototxt=args.prototxt)
        else:
            res = run_torch(args.size, args.runs, args.weights, x, False, device, args.graph, args.channels_last, args.compile,
                            prototxt=args.prototxt)
        np.save(args.out + ".npy", res.pop("out"))
    res.update(peak_mb=(res.pop("peak_rss_mb", None) or peak_rss_mb()) - idle, idle_mb=idle)
    with open(args.out, "w") as f:
        json.dump(res, f)


def spawn(kind, args, weights, tmp, size=None, runs=None, extra=()):
    """Run one worker in a fresh process; (its results, None) or (None, its last line of error)."""
    out = os.path.join(tmp, f"{kind}_{size}_{len(os.listdir(tmp))}.json")
    cmd = python_command("pycolorize.cli.benchmark.worker") + ["--worker", kind, "--runs", str(runs or args.runs),
           "--threads", str(args.threads), "--prototxt", args.prototxt, "--out", out, *extra]
    cmd += ["--size", str(size)] if size else []
    cmd += ["--weights", weights] if weights else []
    cmd += ["--device", str(args.gpu)] if args.gpu is not None else []
    cmd += (["--tf32"] if args.tf32 else []) + (["--profile"] if args.profile else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, )
    if proc.returncode != 0:
        return None, (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
    with open(out) as f:
        res = json.load(f)
    if os.path.exists(out + ".npy"):
        res["out"] = np.load(out + ".npy")
    return res, None


def worker_main(argv=None):
    """A worker process (spawned by spawn(), never by hand): one measurement, a JSON file."""
    ap = argparse.ArgumentParser(prog="pycolorize benchmark worker")
    ap.add_argument("--worker", required=True, choices=["ours", "torch", "train-ours", "train-torch",
                                                        "train-scratch-ours", "train-scratch-torch"])
    ap.add_argument("--size", type=int)
    ap.add_argument("--runs", type=int)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--weights")
    ap.add_argument("--prototxt")
    ap.add_argument("--device", type=int, help="a CUDA device; none: the CPU")
    ap.add_argument("--out")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--graph", choices=["caffe", "grouped"], default="caffe")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--compile", action="store_true")
    worker(ap.parse_args(argv))


# ---- the command -----------------------------------------------------------------------------------

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


SCALING_ARGS = ("--mpi", "--layers")  # the options `--parts scaling` gives pycolorize.cli.benchmark.scaling


def scaling_part(argv=None):
    """The multi-node estimate (pycolorize.cli.benchmark.scaling; `argv`, its options, SCALING_ARGS by
    default): the CPU profile of the training net, its projection, and 2 MPI ranks measured against
    1 process."""
    import pycolorize
    from pycolorize.cli.benchmark import scaling
    from pycolorize.training import distributed

    try:
        import mpi4py  # noqa: F401

        distributed.mpiexec()
    except (ImportError, pycolorize.Error) as e:
        raise CommandError(f"the scaling estimate runs 2 MPI ranks: {e} (pip install 'pycolorize[mpi]')") from None
    try:
        scaling.main(list(SCALING_ARGS if argv is None else argv))
    except RuntimeError as e:  # a rank failed
        raise CommandError(f"the scaling estimate: {e}") from None


def run(args):
    say = (lambda *a: None) if args.quiet else print
    for s in args.sizes:
        if s % 32:
            args._parser.error(f"size {s} is not a multiple of 32 (the dense net's pooling and upsampling need it)")
    gpu = args.gpu is not None
    parts = args.parts or (["train", "forward"] if gpu else list(DEFAULT_PARTS))
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError as e:
        have_torch = False
        say(f"PyTorch not available ({e}); skipping the comparison (pip install torch to enable it)")
    args.prototxt = repo_path(args, DEPLOY_PROTOTXT)
    import pycolorize

    if gpu:
        check_gpu(args.gpu)
        where = f"{pycolorize.gpu_name(args.gpu)} (device {args.gpu}), {'TF32' if args.tf32 else 'FP32 (TF32 off in both)'}"
    else:
        where = f"the CPU, {args.threads} thread(s) in both frameworks, FP32"
    say(f"pycolorize {pycolorize.__version__} on {where}; network {args.prototxt} (random weights)")
    with tempfile.TemporaryDirectory() as tmp:
        weights = None
        if "forward" in parts or "photo" in parts:
            weights = os.path.join(tmp, "random.caffemodel.h5")
            make_weights(weights, args.prototxt)
        for part in parts:
            if part == "forward":
                forward_part(args, weights, tmp, have_torch)
            elif part == "train":
                train_part(args, tmp, have_torch)
            elif part == "scaling":
                scaling_part()
            elif part == "loader":
                from pycolorize.cli.benchmark.loader import loader_part
                loader_part(args)
            else:
                photo_part(args, weights, tmp)
    return 0
