"""The training step of `pycolorize benchmark` (CPU, or --gpu): the full training net in pycolorize
(Solver) and its PyTorch twin (torch.optim.SGD), one step = data in, forward, backward, SGD update.

    solver = ours_solver(train_prototxt(False, batch=4, crop=224), base_lr=1e-4)
    loss = ours_step(solver, batch)                    # one batch of train_batches()
    net = torch_train_net(); opt = torch_optimizer(net, 1e-4)
    loss = torch_step(net, opt, batch, "cpu")

The twin is built from pycolorize.models' description and checked against the prototxt's tensors
(check_twin); tests/test_benchmark.py checks that one step of each gives the same loss and the
same updated weights on a narrow net."""
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
    """The PyTorch twin of the training net (train_prototxt), built from pycolorize.models'
    description, and checked against the prototxt (check_twin)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from pycolorize import models
    from pycolorize.models import spaces

    widths = widths or models.VGG16

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
                    chans.append((cin, widths["conv"][block]))
                    cin = widths["conv"][block]
            self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in chans)
            fc, h_fc1 = widths["fc"], widths["h_fc1"]
            kh, kc = (h.bins for h in spaces.SPACES["hue_chroma"].heads)
            self.fc6, self.fc7 = nn.Conv2d(cin, fc, 7, padding=3), nn.Conv2d(fc, fc, 1)
            norm = (lambda c: nn.BatchNorm2d(c, affine=False, momentum=0.001)) if scratch else (lambda c: nn.Identity())
            self.bns = nn.ModuleList(norm(b) for _, b in chans + [(cin, fc), (fc, fc)])
            self.h_fc1 = nn.Linear(sum(models.channels(widths)), h_fc1)
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
    check_twin([p.shape for p in net.parameters()], train_prototxt(scratch, batch=1, crop=64, samples=1, widths=widths))
    return net


def torch_optimizer(net, base_lr=1e-4):
    """torch.optim.SGD with the settings of ours_solver: weights decayed, biases at twice the rate."""
    import torch

    weights = [p for n, p in net.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in net.named_parameters() if n.endswith("bias")]
    return torch.optim.SGD([{"params": weights, "weight_decay": 5e-4}, {"params": biases, "lr": 2 * base_lr, "weight_decay": 0}],
                           lr=base_lr, momentum=0.9)


def _kld(x, q, m=None):
    """SoftmaxKLDLoss, FULL normalisation: the mean over the samples of KL(q || softmax(x)), masked."""
    import torch
    import torch.nn.functional as F

    t = F.log_softmax(x, dim=1) - torch.log(q.clamp_min(torch.finfo(torch.float32).tiny))
    per = -(q * t).sum(1)
    return (per * m).mean() if m is not None else per.mean()


def torch_step(net, opt, batch, device, channels_last=False):
    """One training step of the twin: the batch to the device, forward, the two KL losses (the
    hue one masked by chroma and weighted 5), backward, SGD; returns the loss."""
    import torch

    b = {k: torch.from_numpy(v).to(device) for k, v in batch.items()}
    if channels_last:
        b["data"] = b["data"].contiguous(memory_format=torch.channels_last)
    opt.zero_grad()  # PyTorch's default, set_to_none=True: faster than zeroing the 588 MB of gradients
    ph, pc = net(b["data"], b["centroids"])
    loss = 5 * _kld(ph, b["hist_h"], b["chroma"]) + _kld(pc, b["hist_c"], b.get("chroma_weight"))
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
