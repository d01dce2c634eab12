#!/usr/bin/env python
"""CPU benchmark: forward time of the authors' full-size dense colorization network
(prototxt/colorize_deploy.prototxt: VGG-16 gray, 12,417-channel hypercolumn at 1/4 resolution,
h_fc1, hue/chroma heads) at 256x256 and 512x512 with random weights, in pycolorize and in the
same network written in PyTorch (CPU), measured in the same run.

    python tools/benchmark.py [--sizes 256 512] [--runs 5] [--threads N] [--profile]

Each framework runs in its own subprocess (so peak memory is its own) on the same weights and
the same input; the script prints the median forward time, the ratio ours/PyTorch, the peak
resident memory of each process, and checks that both produce the same prediction. PyTorch is
optional (PyPI's `torch` wheel is a large download but runs on the CPU); without it the
comparison is skipped and only our figures are printed.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTOTXT = os.path.join(ROOT, "prototxt", "colorize_deploy.prototxt")
HEAD = "prediction_h_full"


def make_weights(path, seed=0):
    """He-initialised random weights for every learned layer, written as Caffe HDF5."""
    import pycolorize

    net = pycolorize.Net(PROTOTXT)
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


def run_ours(size, runs, weights, x, profile):
    import pycolorize

    net = pycolorize.Net(PROTOTXT, weights=weights)
    net.forward(data=x)  # warm-up (allocates every blob)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = net.forward(data=x)
        times.append(time.perf_counter() - t)
    result = {"times": times, "out": out[HEAD]}
    if profile:
        per_type = {}
        core = net._net
        for i in range(core.num_layers):
            t = time.perf_counter()
            core.forward_from_to(i, i)
            dt = time.perf_counter() - t
            key = core.layer(i).type
            if key == "Convolution":
                key += " " + ("1x1" if core.layer(i).blobs[0].shape[2] == 1 else f"{core.layer(i).blobs[0].shape[2]}x{core.layer(i).blobs[0].shape[3]}")
            per_type[key] = per_type.get(key, 0.0) + dt
        result["profile"] = per_type
    return result


def run_torch(size, runs, weights, x, profile):
    import h5py
    import torch
    import torch.nn.functional as F

    with h5py.File(weights) as f:
        W = {name: [torch.from_numpy(np.asarray(f["data"][name][k])) for k in sorted(f["data"][name], key=int)]
             for name in f["data"] if len(f["data"][name])}

    def conv(h, name, pad):
        return F.relu(F.conv2d(h, W[name][0], W[name][1], padding=pad))

    def up(t, name):  # the deploy net's Reshape {-1,1} -> bilinear Deconvolution -> Reshape trick
        k = W[name][0]
        f = k.shape[-1] // 2
        n, c, h, w = t.shape
        u = F.conv_transpose2d(t.reshape(n * c, 1, h, w), k, stride=f, padding=(f + 1) // 2 if f > 1 else 0)
        return u.reshape(n, c, u.shape[-2], u.shape[-1])

    def forward(data):
        cols = {"data": F.avg_pool2d(data, 4)}
        h = data
        blocks = [["conv1_1", "conv1_2"], ["conv2_1", "conv2_2"], ["conv3_1", "conv3_2", "conv3_3"],
                  ["conv4_1", "conv4_2", "conv4_3"], ["conv5_1", "conv5_2", "conv5_3"]]
        for b, names in enumerate(blocks):
            for name in names:
                h = conv(h, name, 1)
                if b == 0:
                    cols[name] = F.avg_pool2d(h, 4)
                elif b == 1:
                    cols[name] = F.avg_pool2d(h, 2)
                elif b == 2:
                    cols[name] = h
                else:
                    cols[name] = up(h, name + "_full_reshaped")
            h = F.max_pool2d(h, 2, 2, ceil_mode=True)
        h = conv(h, "fc6", 3)
        cols["fc6"] = up(h, "fc6_full_reshaped")
        h = conv(h, "fc7", 0)
        cols["fc7"] = up(h, "fc7_full_reshaped")
        hyper = torch.cat(list(cols.values()), dim=1)
        h = conv(hyper, "h_fc1", 0)
        ph = torch.softmax(F.conv2d(h, W["prediction_h"][0], W["prediction_h"][1]), dim=1)
        return up(ph, "prediction_h_full_reshaped")

    xt = torch.from_numpy(x)
    with torch.inference_mode():
        forward(xt)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            out = forward(xt)
            times.append(time.perf_counter() - t)
    return {"times": times, "out": out.numpy(), "version": torch.__version__}


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
    res = fn(args.size, args.runs, args.weights, x, args.profile)
    np.save(args.out + ".npy", res.pop("out"))
    res["peak_rss_mb"] = peak_rss_mb()
    with open(args.out, "w") as f:
        json.dump(res, f)


def spawn(kind, size, args, weights, tmp):
    out = os.path.join(tmp, f"{kind}_{size}.json")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--size", str(size), "--runs", str(args.runs),
           "--threads", str(args.threads), "--weights", weights, "--out", out] + (["--profile"] if args.profile else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
    with open(out) as f:
        res = json.load(f)
    res["out"] = np.load(out + ".npy")
    return res, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--runs", type=int, default=5, help="timed forward passes per size (median reported)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--profile", action="store_true", help="also print where our forward time goes, by layer type")
    ap.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--weights", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    for s in args.sizes:
        if s % 32:
            ap.error(f"size {s} is not a multiple of 32 (the dense net's pooling and upsampling need it)")
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError as e:
        have_torch = False
        print(f"PyTorch not available ({e}); skipping the comparison (pip install torch to enable it)")
    import pycolorize

    print(f"pycolorize {pycolorize.__version__}, dense deploy net {os.path.relpath(PROTOTXT, ROOT)}, "
          f"{args.threads} thread(s), median of {args.runs} forward passes, batch 1")
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "random.caffemodel.h5")
        make_weights(weights)
        rows = []
        for size in args.sizes:
            ours, err = spawn("ours", size, args, weights, tmp)
            if ours is None:
                raise SystemExit(f"pycolorize worker failed at {size}: {err}")
            theirs, terr = spawn("torch", size, args, weights, tmp) if have_torch else (None, "not installed")
            rows.append((size, ours, theirs, terr))
        print()
        print(f"{'size':>9} | {'pycolorize':>11} | {'PyTorch':>9} | {'ratio':>6} | {'peak RSS ours':>13} | {'peak RSS torch':>14} | max |diff|")
        print("-" * 95)
        for size, ours, theirs, terr in rows:
            t_ours = float(np.median(ours["times"]))
            if theirs:
                t_th = float(np.median(theirs["times"]))
                diff = float(np.abs(ours["out"] - theirs["out"]).max())
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


if __name__ == "__main__":
    main()
