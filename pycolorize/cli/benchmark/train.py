"""The training step of `pycolorize benchmark` (CPU, or --gpu): the full training net in pycolorize
(Solver) and its PyTorch twin (torch.optim.SGD), one step = data in, forward, backward, SGD update.

    solver = ours_solver(train_prototxt(False, batch=4, crop=224), base_lr=1e-4)
    loss = ours_step(solver, batch)                    # one batch of train_batches()
    net = torch_train_net(); opt = torch_optimizer(net, 1e-4)
    loss = torch_step(net, opt, batch, "cpu")

The twin is the training prototxt itself in PyTorch (pycolorize.export.to_torch), checked against
the prototxt's tensors (check_twin); tests/test_benchmark.py checks that one step of each gives the
same loss and the same updated weights on a narrow net."""
import os
import tempfile
import time

import numpy as np

from pycolorize.cli import CommandError

GPU_TRAIN = {"batch": 8, "crop": 256, "samples": 128}  # --gpu: batch 8 of 256x256 crops
CPU_TRAIN = {"batch": 4, "crop": 224, "samples": 128}  # the CPU step of issue 15: batch 4 of 224x224


def train_batches(n, batch, crop, samples, scratch=False, seed=0):
    """Synthetic batches for the hue/chroma training net (data loading is not what is measured);
    scratch adds the from-scratch net's chroma_weight."""
    rng = np.random.RandomState(seed)
    margin = min(16, crop // 4)
    out = []
    for _ in range(n):
        k = batch * samples
        hist = lambda: np.eye(32, dtype=np.float32)[rng.randint(0, 32, k)]  # noqa: E731
        out.append({"data": rng.rand(batch, 1, crop, crop).astype(np.float32),
                    "centroids": rng.randint(margin, crop - margin, (batch, samples, 2)).astype(np.float32),
                    "hist_h": hist(), "hist_c": hist(), "chroma": rng.rand(k).astype(np.float32)})
        if scratch:
            out[-1]["chroma_weight"] = rng.rand(k).astype(np.float32)
    return out


def train_prototxt(scratch, batch=8, crop=256, samples=128, widths=None):
    """The ImageNet-initialised training net (trunk drawn at random here: only speed is measured) or
    the from-scratch one (models.scratch_net: BatchNorm, lightness-weighted chroma loss)."""
    from pycolorize import models

    widths = widths or models.VGG16
    if scratch:
        return models.scratch_net(widths, batch=batch, crop=crop, samples=samples)
    return models.train_net("hue_chroma", widths, batch=batch, crop=crop, samples=samples, trunk_filler='type: "msra"')


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


def layer_kind(layer):
    """A profile's row: the layer type, with the kernel size for convolutions ("Convolution 3x3")."""
    if layer.type == "Convolution":
        return "Convolution {}x{}".format(*layer.blobs[0].shape[2:])
    return layer.type


# ---- pycolorize -------------------------------------------------------------------------------------

def ours_solver(text, base_lr=1e-4):
    """A Solver of the training net `text` with the released solver's settings (momentum 0.9, weight
    decay 5e-4, biases at twice the rate and without decay: models.solver_text)."""
    import pycolorize
    from pycolorize import models

    with tempfile.TemporaryDirectory() as tmp:
        net = os.path.join(tmp, "train.prototxt")
        with open(net, "w") as f:
            f.write(text)
        with open(os.path.join(tmp, "solver.prototxt"), "w") as f:
            f.write(models.solver_text(net, base_lr=base_lr))
        return pycolorize.Solver(os.path.join(tmp, "solver.prototxt"))


def load_batch(net, batch):
    """A batch (dict of arrays named like the net's Input blobs) into the input blobs (host to device
    on the GPU, as real training does)."""
    blobs = net.blobs
    for k, v in batch.items():
        blobs[k].data[...] = v


def ours_step(solver, batch):
    """One training step: the batch in, forward, backward, SGD update; returns the loss."""
    load_batch(solver.net, batch)
    return float(solver.step(1))


def layer_times(net, reps=1, backward=True, reduce=np.mean):
    """(forward, backward) seconds of each layer of `net` (arrays in net order), each pass timed
    alone with the device synchronised around it, over `reps` rounds reduced by `reduce`; the
    backward ones are zeros when not `backward`. The net's inputs must be set."""
    from pycolorize import synchronize as sync

    def timed(fn):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - t

    n = len(net.layers)
    fwd, bwd = np.zeros((reps, n)), np.zeros((reps, n))
    for r in range(reps):
        for i in range(n):
            fwd[r, i] = timed(lambda: net.forward_layers(i, i))
        if backward:
            for i in reversed(range(n)):
                bwd[r, i] = timed(lambda: net.backward_layers(i, i))
    return reduce(fwd, axis=0), reduce(bwd, axis=0)


def train_ours(iters, batch, crop, samples, cuda=False, tf32=False, profile=False, scratch=False, warmup=None):
    import pycolorize

    if cuda:
        pycolorize.set_mode_gpu()
        pycolorize.set_allow_tf32(tf32)
    solver = ours_solver(train_prototxt(scratch, batch, crop, samples))
    batches = train_batches(4, batch, crop, samples, scratch)
    for i in range(warmup if warmup is not None else 3 if cuda else 1):  # allocation (and cuDNN's algorithm search)
        ours_step(solver, batches[i % 4])
    pycolorize.synchronize()
    t = time.perf_counter()
    for i in range(iters):
        loss = ours_step(solver, batches[i % 4])
    pycolorize.synchronize()
    dt = time.perf_counter() - t
    res = {"images_per_s": batch * iters / dt, "step_s": dt / iters, "loss": loss}
    if cuda:
        mem = pycolorize.gpu_memory()
        res.update(gpu_peak_mb=mem["peak_allocated"] / 2**20, gpu_used_mb=(mem["device_total"] - mem["device_free"]) / 2**20)
    if profile:
        res["profile"] = train_profile(solver.net, dt / iters, reps=3 if cuda else 1)
    return res


def train_profile(net, step_s, reps=3):
    """Where a training step's time goes: each layer's forward and backward timed alone (layer_times),
    summed by layer type; the rest of the step (data upload, SGD update, launch gaps) is what remains
    of the measured step time."""
    fwd, bwd = layer_times(net, reps)
    per = {}
    for i, layer in enumerate(net.layers):
        per[layer_kind(layer) + " fwd"] = per.get(layer_kind(layer) + " fwd", 0.0) + fwd[i]
    for i, layer in reversed(list(enumerate(net.layers))):
        per[layer_kind(layer) + " bwd"] = per.get(layer_kind(layer) + " bwd", 0.0) + bwd[i]
    per["rest of the step (data in, SGD update, gaps)"] = step_s - sum(per.values())
    return {k: float(v) for k, v in per.items()}


# ---- PyTorch ----------------------------------------------------------------------------------------

def torch_train_net(scratch=False, widths=None):
    """The PyTorch twin of the training net (train_prototxt), built from that prototxt by
    pycolorize.export.to_torch (phase train: Dropout on, BatchNorm on the batch's statistics with
    Caffe's running sums; the sparse hypercolumn sampled as the core samples it; the losses as
    layers, their weights from the prototxt; the prototxt's fillers), and checked against it
    (check_twin)."""
    from pycolorize.export import to_torch

    # the Input shapes do not bind the module (any batch, crop and sample count runs): a small net builds fast
    text = train_prototxt(scratch, batch=1, crop=64, samples=1, widths=widths)
    net = to_torch(text, phase="train")
    check_twin([p.shape for p in net.parameters()], text)
    return net


def torch_optimizer(net, base_lr=1e-4):
    """torch.optim.SGD with the settings of ours_solver: momentum 0.9, weight decay 5e-4, each tensor's
    rate and decay scaled by its prototxt lr_mult and decay_mult (biases at twice the rate, not
    decayed), as Caffe's SGD (with a fixed rate, torch's update is Caffe's: V = lr * buffer)."""
    import torch

    return torch.optim.SGD(net.param_groups(base_lr, weight_decay=5e-4), lr=base_lr, momentum=0.9)


def torch_step(net, opt, batch, device, channels_last=False):
    """One training step of the twin: the batch to the device, forward (the net's two KL losses: the
    hue one masked by chroma and weighted 5), backward, SGD; returns the loss."""
    import torch

    b = {k: torch.from_numpy(v).to(device) for k, v in batch.items()}
    if channels_last:
        b["data"] = b["data"].contiguous(memory_format=torch.channels_last)
    opt.zero_grad()  # PyTorch's default, set_to_none=True: faster than zeroing the 588 MB of gradients
    loss = net.loss(net(**b))
    loss.backward()
    opt.step()
    return loss.detach()


def train_torch(iters, batch, crop, samples, cuda=False, tf32=False, scratch=False, channels_last=False, warmup=None):
    """The twin's training throughput. On the GPU with cudnn.benchmark (the counterpart of our cached
    cuDNN algorithm search); `channels_last` puts the net and its input in NHWC (a user's option on
    tensor-core GPUs). Autocast would only matter in a reduced precision, which the core lacks."""
    import torch

    dev = "cuda" if cuda else "cpu"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = True
    net = torch_train_net(scratch).to(dev).train()
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    opt = torch_optimizer(net)
    batches = train_batches(4, batch, crop, samples, scratch)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for i in range(warmup if warmup is not None else 3 if cuda else 1):
        torch_step(net, opt, batches[i % 4], dev, channels_last)
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    for i in range(iters):
        loss = torch_step(net, opt, batches[i % 4], dev, channels_last)
    sync()
    dt = time.perf_counter() - t
    res = {"images_per_s": batch * iters / dt, "step_s": dt / iters, "loss": float(loss), "version": torch.__version__}
    if cuda:
        free, total = torch.cuda.mem_get_info()
        res.update(gpu_peak_mb=torch.cuda.max_memory_allocated() / 2**20, gpu_used_mb=(total - free) / 2**20)
    return res
