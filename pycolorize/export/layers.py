"""The layers of a net prototxt as torch.nn.Modules, each computing what the core's layer of that
type computes (csrc/layers/), in float32: the VGG trunk's Convolution, ReLU, Pooling (Caffe's ceil
rounding), Dropout and BatchNorm (Caffe's three statistics blobs), the dense net's Reshape ->
single-channel Deconvolution -> Reshape upsampling, Concat, Softmax, InnerProduct, the authors'
SparseHypercolumnExtractor (the released sampling, operation for operation) and the losses
(SoftmaxKLDLoss, SoftmaxWithLoss, EuclideanLoss), and the rest of the core's types (Eltwise,
Power, Scale, Flatten, Slice, Split, Silence, Parameter).

Each layer module holds its Caffe blobs as parameters (learned ones with requires_grad where the
prototxt's lr_mult is not 0) or, for BatchNorm's statistics, buffers, and lists them in Caffe's blob
order (`caffe_blobs()`), which is how pycolorize.export.from_torch writes them back. forward takes
the bottoms in order and returns the list of tops. Built by pycolorize.export.to_torch, never by
hand; this module imports PyTorch.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FLT_MIN = float(np.finfo(np.float32).tiny)  # the losses' log(max(p, FLT_MIN)), as Caffe's
LOG_FLT_MIN = math.log(FLT_MIN)


class Layer(nn.Module):
    """One layer: its Caffe name and type, bottoms and tops (blob names), and its blobs."""

    caffe_type = ""

    def __init__(self, name, bottoms, tops, param, blobs):
        super().__init__()
        self.caffe_name, self.bottoms, self.tops = name, list(bottoms), list(tops)
        self._blob_names = []
        for i, b in enumerate(blobs):
            self._add_blob(self.blob_attr(i, len(blobs)), b)
        self.setup(param)

    def blob_attr(self, i, n):
        """The attribute name of Caffe blob i of n (weight, bias, ...)."""
        return ("weight", "bias")[i] if n <= 2 else f"blob{i}"

    def _add_blob(self, attr, tensor):
        if isinstance(tensor, nn.Parameter):
            self.register_parameter(attr, tensor)
        else:
            self.register_buffer(attr, tensor)
        self._blob_names.append(attr)

    def setup(self, param):
        """Read the layer's parameters (a prototxt.Message of LayerParameter) into plain values."""

    def caffe_blobs(self):
        """The layer's tensors in Caffe's blob order (what /data/<layer>/<i> holds)."""
        return [getattr(self, a) for a in self._blob_names]

    def extra_repr(self):
        return (f"{self.caffe_name!r} {self.caffe_type}: {', '.join(self.bottoms) or '-'} -> {', '.join(self.tops) or '-'}"
                + "".join(f", {a} {tuple(getattr(self, a).shape)}" for a in self._blob_names))


def _axis(axis, ndim):
    return axis + ndim if axis < 0 else axis


def _pair(p, name, h, w, default):
    """Caffe's (h, w) of a convolution or pooling field: name_h/name_w if given, else the repeated
    (or single) `name` (one value for both, two for h and w), else `default`."""
    if p.has(h) or p.has(w):
        return (p.get(h), p.get(w))
    values = p.values(name) if p.repeated(name) else ([p.get(name)] if p.has(name) else [])
    if not values:
        return (default, default)
    if len(values) == 1:
        return (values[0], values[0])
    if len(values) == 2:
        return tuple(values)
    raise NotImplementedError(f"{len(values)}-dimensional {name}: only 2-d convolutions and pooling are exported")


# ---- the trunk and the dense net ----------------------------------------------------------------

class Convolution(Layer):
    caffe_type = "Convolution"

    def setup(self, param):
        p = param.msg("convolution_param")
        if p.get("axis") != 1:
            raise NotImplementedError(f"layer {self.caffe_name}: convolution over axis {p.get('axis')}")
        self.stride = _pair(p, "stride", "stride_h", "stride_w", 1)
        self.padding = _pair(p, "pad", "pad_h", "pad_w", 0)
        d = p.values("dilation") or [1]
        self.dilation = (d[0], d[0]) if len(d) == 1 else tuple(d)
        self.groups = p.get("group")
        if self.weight.dim() != 4:
            raise NotImplementedError(f"layer {self.caffe_name}: weights {tuple(self.weight.shape)}; only 2-d convolutions")

    def blob_attr(self, i, n):
        return ("weight", "bias")[i]

    def forward(self, x):
        return [F.conv2d(x, self.weight, getattr(self, "bias", None), self.stride, self.padding, self.dilation, self.groups)]


class Deconvolution(Convolution):
    """Caffe's Deconvolution: the backward pass of a convolution, weights (C_in, C_out / group, kh,
    kw), output s (H - 1) + d (k - 1) + 1 - 2p; the dense net's bilinear upsampling is one of these
    with a fixed (lr_mult 0) single-channel kernel between two Reshapes."""
    caffe_type = "Deconvolution"

    def forward(self, x):
        return [F.conv_transpose2d(x, self.weight, getattr(self, "bias", None), self.stride, self.padding, 0,
                                   self.groups, self.dilation)]


class Projection(Convolution):
    """The core's Projection (csrc/layers/projection_layer.h): the 1x1 convolution of its bottoms'
    channel concatenation, weights (num_output, sum C_i, 1, 1) as the Concat + Convolution pair it
    stands for holds them. The projection pass writes it inside the core; a prototxt may name it."""
    caffe_type = "Projection"

    def forward(self, *xs):
        return [F.conv2d(torch.cat(xs, 1) if len(xs) > 1 else xs[0], self.weight, getattr(self, "bias", None))]


class ResampleAdd(Convolution):
    """The core's ResampleAdd (csrc/layers/resample_add_layer.h): y + D(x) for bottoms (y, x), D(x)
    for x alone, where D is the single-channel Deconvolution of its convolution_param (weights
    (1, 1, kh, kw), no bias) applied to every channel plane of x."""
    caffe_type = "ResampleAdd"

    def forward(self, *xs):
        x = xs[-1]
        kernel = self.weight.expand(x.shape[1], 1, *self.weight.shape[2:])
        up = F.conv_transpose2d(x, kernel, None, self.stride, self.padding, 0, x.shape[1], self.dilation)
        return [xs[0] + up if len(xs) == 2 else up]


class InnerProduct(Layer):
    caffe_type = "InnerProduct"

    def setup(self, param):
        p = param.msg("inner_product_param")
        self.axis, self.transpose = p.get("axis"), p.get("transpose")

    def forward(self, x):
        axis = _axis(self.axis, x.dim())
        w = self.weight.reshape(self.weight.shape[0], -1)  # (out, in), also where it was stored 4-d
        y = F.linear(x.flatten(axis), w.t() if self.transpose else w, getattr(self, "bias", None))
        return [y]


class ReLU(Layer):
    caffe_type = "ReLU"

    def setup(self, param):
        self.negative_slope = param.msg("relu_param").get("negative_slope")

    def forward(self, x):
        return [F.leaky_relu(x, self.negative_slope) if self.negative_slope else F.relu(x)]


class Pooling(Layer):
    """MAX or AVE pooling with Caffe's output size: ceil((H + 2p - k) / s) + 1 (round_mode CEIL, the
    default), less one where the last window would start past the input; AVE divides by the
    window clipped to the padded input, as PyTorch's count_include_pad=True does."""
    caffe_type = "Pooling"

    def setup(self, param):
        p = param.msg("pooling_param")
        self.pool, self.global_pooling = p.get("pool"), p.get("global_pooling")
        self.kernel = _pair(p, "kernel_size", "kernel_h", "kernel_w", None)
        self.stride = _pair(p, "stride", "stride_h", "stride_w", 1)
        self.padding = _pair(p, "pad", "pad_h", "pad_w", 0)
        self.ceil = p.get("round_mode") == "CEIL"
        if self.pool not in ("MAX", "AVE"):
            raise NotImplementedError(f"layer {self.caffe_name}: {self.pool} pooling")
        if not self.global_pooling and any(2 * pd > k for pd, k in zip(self.padding, self.kernel)):
            raise NotImplementedError(f"layer {self.caffe_name}: padding {self.padding} over half the kernel {self.kernel}")

    def forward(self, x):
        if self.global_pooling:
            kernel, stride, padding = tuple(x.shape[2:]), 1, 0
        else:
            kernel, stride, padding = self.kernel, self.stride, self.padding
        if self.pool == "MAX":
            return [F.max_pool2d(x, kernel, stride, padding, ceil_mode=self.ceil)]
        return [F.avg_pool2d(x, kernel, stride, padding, ceil_mode=self.ceil, count_include_pad=True)]


class Dropout(Layer):
    """Identity in eval(); in train(), PyTorch's dropout (the same 1 / (1 - ratio) scaling as Caffe's,
    other random masks)."""
    caffe_type = "Dropout"

    def setup(self, param):
        self.ratio = param.msg("dropout_param").get("dropout_ratio")

    def forward(self, x):
        return [F.dropout(x, self.ratio, self.training) if self.ratio else x]


class BatchNorm(Layer):
    """Caffe's BatchNorm (no affine part: a Scale layer would follow): buffers blob0 = the mean sum,
    blob1 = the variance sum, blob2 = the factor (mean = blob0 / blob2, var = blob1 / blob2; 0 when
    the factor is 0). With the global statistics (use_global_stats, or by default in eval()),
    y = (x - mean) / sqrt(var + eps); otherwise the batch's mean and (biased) variance, and the sums
    are updated as Caffe updates them: factor = factor * f + 1, blob0 = mean + f * blob0, blob1 =
    m / (m - 1) * var + f * blob1 (f the moving_average_fraction, m the values per channel)."""
    caffe_type = "BatchNorm"

    def setup(self, param):
        p = param.msg("batch_norm_param")
        self.use_global_stats = p.get("use_global_stats") if p.has("use_global_stats") else None
        self.eps, self.fraction = p.get("eps"), p.get("moving_average_fraction")

    def blob_attr(self, i, n):
        return ("mean_sum", "var_sum", "factor")[i]

    def forward(self, x):
        glob = self.use_global_stats if self.use_global_stats is not None else not self.training
        shape = (1, -1) + (1,) * (x.dim() - 2) if x.dim() > 1 else (-1,)
        if glob:
            f = self.factor.reshape(())
            scale = torch.where(f == 0, torch.zeros_like(f), 1 / f)
            mean, var = scale * self.mean_sum, scale * self.var_sum
            inv_std = 1 / torch.sqrt(var + self.eps)
            return [(x - mean.reshape(shape)) * inv_std.reshape(shape)]
        # the batch's statistics: PyTorch's fused batch norm normalises (and differentiates), the
        # running sums are Caffe's
        xc = x if x.dim() > 1 else x.reshape(-1, 1)
        y = F.batch_norm(xc, None, None, training=True, momentum=0.0, eps=self.eps).reshape(x.shape)
        with torch.no_grad():
            var, mean = torch.var_mean(xc, dim=[0] + list(range(2, xc.dim())), correction=0)
            m = xc.numel() // xc.shape[1]
            self.factor.mul_(self.fraction).add_(1)
            self.mean_sum.mul_(self.fraction).add_(mean)
            self.var_sum.mul_(self.fraction).add_(var * (m / (m - 1) if m > 1 else 1.0))
        return [y]


class Scale(Layer):
    caffe_type = "Scale"

    def setup(self, param):
        p = param.msg("scale_param")
        self.axis, self.num_axes, self.bias_term = p.get("axis"), p.get("num_axes"), p.get("bias_term")

    def blob_attr(self, i, n):
        return ("bias",)[i] if len(self.bottoms) == 2 else ("weight", "bias")[i]

    def forward(self, x, s=None):
        s = self.weight if s is None else s
        axis = _axis(self.axis, x.dim())
        shape = (1,) * axis + tuple(s.shape) + (1,) * (x.dim() - axis - s.dim())
        y = x * s.reshape(shape)
        if hasattr(self, "bias"):
            y = y + self.bias.reshape(shape)
        return [y]


class Softmax(Layer):
    caffe_type = "Softmax"

    def setup(self, param):
        self.axis = param.msg("softmax_param").get("axis")

    def forward(self, x):
        return [F.softmax(x, dim=_axis(self.axis, x.dim()))]


class Reshape(Layer):
    """Caffe's Reshape: dims `axis` .. `axis + num_axes` (num_axes -1: to the end) become the given
    dims, 0 copying the input's dim there and -1 inferred (the dense net: (N, C, h, w) -> (N*C, 1,
    h, w) and back), from the input's shape at run time, so any input size passes."""
    caffe_type = "Reshape"

    def setup(self, param):
        p = param.msg("reshape_param")
        self.dims = p.msg("shape").values("dim")
        self.axis, self.num_axes = p.get("axis"), p.get("num_axes")

    def forward(self, x):
        n = x.dim()
        start = self.axis if self.axis >= 0 else n + self.axis + 1
        end = n if self.num_axes == -1 else start + self.num_axes
        shape = list(x.shape[:start]) + [x.shape[start + i] if d == 0 else d for i, d in enumerate(self.dims)] + list(x.shape[end:])
        return [x.reshape(shape)]


class Flatten(Layer):
    caffe_type = "Flatten"

    def setup(self, param):
        p = param.msg("flatten_param")
        self.axis, self.end_axis = p.get("axis"), p.get("end_axis")

    def forward(self, x):
        return [x.flatten(_axis(self.axis, x.dim()), _axis(self.end_axis, x.dim()))]


class Concat(Layer):
    caffe_type = "Concat"

    def setup(self, param):
        p = param.msg("concat_param")
        self.axis = p.get("concat_dim") if p.has("concat_dim") else p.get("axis")

    def forward(self, *xs):
        return [torch.cat(xs, dim=_axis(self.axis, xs[0].dim()))]


class Slice(Layer):
    caffe_type = "Slice"

    def setup(self, param):
        p = param.msg("slice_param")
        self.axis = p.get("slice_dim") if p.has("slice_dim") else p.get("axis")
        self.points = p.values("slice_point")

    def forward(self, x):
        axis = _axis(self.axis, x.dim())
        total = x.shape[axis]
        if self.points:
            edges = [0] + list(self.points) + [total]
        else:
            step = total // len(self.tops)
            edges = [i * step for i in range(len(self.tops) + 1)]
        return [x.narrow(axis, a, b - a) for a, b in zip(edges[:-1], edges[1:])]


class Split(Layer):
    caffe_type = "Split"

    def forward(self, x):
        return [x] * len(self.tops)


class Silence(Layer):
    caffe_type = "Silence"

    def forward(self, *xs):
        return []


class Eltwise(Layer):
    caffe_type = "Eltwise"

    def setup(self, param):
        p = param.msg("eltwise_param")
        self.operation, self.coeff = p.get("operation"), p.values("coeff")

    def forward(self, *xs):
        if self.operation == "SUM":
            coeff = self.coeff or [1.0] * len(xs)
            y = xs[0] * coeff[0] if coeff[0] != 1 else xs[0]
            for c, x in zip(coeff[1:], xs[1:]):
                y = y + (x * c if c != 1 else x)
            return [y]
        y = xs[0]
        for x in xs[1:]:
            y = y * x if self.operation == "PROD" else torch.maximum(y, x)
        return [y]


class Power(Layer):
    caffe_type = "Power"

    def setup(self, param):
        p = param.msg("power_param")
        self.power, self.scale, self.shift = p.get("power"), p.get("scale"), p.get("shift")

    def forward(self, x):
        if self.power == 0 or self.scale == 0:
            return [torch.full_like(x, 1.0 if self.power == 0 else self.shift ** self.power)]
        y = x * self.scale if self.scale != 1 else x
        y = y + self.shift if self.shift else y
        return [y if self.power == 1 else y ** self.power]


class Parameter(Layer):
    caffe_type = "Parameter"

    def blob_attr(self, i, n):
        return "weight"

    def forward(self):
        return [self.weight]


# ---- the authors' layers and the losses ---------------------------------------------------------

class SparseHypercolumnExtractor(Layer):
    """The hypercolumns of P points per image (Larsson et al.; csrc/layers/sparse_hypercolumn_layer.h):
    bottoms centroids (N, P, 2) holding (y, x), then L maps (N, C_l, H_l, W_l); top (N*P, sum C_l).
    Map l (scale s, offsets oh, ow, factor m) is read at ly = (y - oh) / s, lx = (x - ow) / s,
    clamped to [0, H - 1.0001] x [0, W - 1.0001] (the bound rounded to float32), taps y0 = trunc(ly)
    (at most H - 2), y0 + 1 with weights (y0 + 1 - ly, ly - y0) (and the same across), and
    m * (wy0 (wx0 q00 + wx1 q01) + wy1 (wx0 q10 + wx1 q11)): the core's float32 operations in its
    order, so the values agree bit for bit. The gradient flows into the maps (PyTorch's scatter),
    never into the centroids."""
    caffe_type = "SparseHypercolumnExtractor"

    def setup(self, param):
        p = param.msg("sparse_hypercolumn_extractor_param")
        n = len(self.bottoms) - 1
        self.scale = [float(np.float32(v)) for v in p.values("scale")]
        self.offset_h = [float(np.float32(v)) for v in p.values("offset_height")]
        self.offset_w = [float(np.float32(v)) for v in p.values("offset_width")]
        mult = [float(np.float32(v)) for v in p.values("activation_mult")]
        self.mult = mult + [1.0] * (n - len(mult))  # padded at the end, as released

    @staticmethod
    def taps(v, offset, scale, size):
        """(index of the first tap, its weight, the second's) of coordinates `v` on a side of `size`."""
        # Python numbers holding float32 values: PyTorch computes a float32 tensor with them in float32,
        # on every device, without moving a tensor there
        lv = (v - offset) / scale
        lv = torch.clamp(lv, min=0.0, max=float(np.float32(size - 1.0001)))
        i0 = torch.clamp(lv.to(torch.int64), max=size - 2)
        return i0, (i0 + 1).to(torch.float32) - lv, lv - i0.to(torch.float32)

    def forward(self, centroids, *maps):
        cent = centroids.detach()
        n, p = cent.shape[0], cent.shape[1]
        rows = torch.arange(n, device=cent.device)[:, None]
        cols = []
        for f, s, oh, ow, m in zip(maps, self.scale, self.offset_h, self.offset_w, self.mult):
            _, c, h, w = f.shape
            y0, wy0, wy1 = self.taps(cent[..., 0], oh, s, h)
            x0, wx0, wx1 = self.taps(cent[..., 1], ow, s, w)
            ff = f.permute(0, 2, 3, 1)  # (N, H, W, C): one gather per tap reads whole columns
            wy0, wy1, wx0, wx1 = (t[..., None] for t in (wy0, wy1, wx0, wx1))
            v = (wy0 * (wx0 * ff[rows, y0, x0] + wx1 * ff[rows, y0, x0 + 1])
                 + wy1 * (wx0 * ff[rows, y0 + 1, x0] + wx1 * ff[rows, y0 + 1, x0 + 1]))
            cols.append((v * m if m != 1 else v).reshape(n * p, c))
        return [torch.cat(cols, dim=1)]


def _normalizer(mode, outer, inner, valid):
    """Caffe's loss normalizer (never below 1): FULL outer * inner, VALID `valid`, BATCH_SIZE
    outer, NONE 1."""
    n = {"FULL": outer * inner, "BATCH_SIZE": outer, "NONE": 1}.get(mode, valid)
    return torch.clamp(n, min=1.0) if torch.is_tensor(n) else max(1.0, float(n))


def _loss_mode(param):
    lp = param.msg("loss_param")
    if lp.has("normalize"):
        return "VALID" if lp.get("normalize") else "BATCH_SIZE"
    return lp.get("normalization")


class SoftmaxKLDLoss(Layer):
    """The authors' loss: p = softmax(pred) over the axis, loss = -sum(mask * q * (log max(p,
    FLT_MIN) - log max(q, FLT_MIN))) / normalizer (CROSS_ENTROPY: without the second log). Its
    gradient is PyTorch's of this expression: Caffe's (p - q) mask / normalizer wherever q sums to
    1, as every target here does, and p is above FLT_MIN."""
    caffe_type = "SoftmaxKLDLoss"

    def setup(self, param):
        self.axis = param.msg("softmax_param").get("axis")
        self.mode = _loss_mode(param)
        self.cross_entropy = param.msg("softmax_kld_loss_param").get("type") == "CROSS_ENTROPY"

    def forward(self, pred, target, mask=None):
        axis = _axis(self.axis, pred.dim())
        t = F.log_softmax(pred, dim=axis).clamp_min(LOG_FLT_MIN)
        if not self.cross_entropy:
            t = t - torch.log(target.clamp_min(FLT_MIN))
        per = (target * t).sum(dim=axis)
        outer, inner = math.prod(pred.shape[:axis]), math.prod(pred.shape[axis + 1:])
        valid = outer * inner
        if mask is not None:
            m = mask.reshape(per.shape)
            per = per * m
            valid = m.abs().sum()
        return [-per.sum() / _normalizer(self.mode, outer, inner, valid)]


class SoftmaxWithLoss(Layer):
    caffe_type = "SoftmaxWithLoss"

    def setup(self, param):
        self.axis = param.msg("softmax_param").get("axis")
        self.mode = _loss_mode(param)
        lp = param.msg("loss_param")
        self.ignore = lp.get("ignore_label") if lp.has("ignore_label") else None

    def forward(self, logits, label):
        axis = _axis(self.axis, logits.dim())
        outer, c, inner = math.prod(logits.shape[:axis]), logits.shape[axis], math.prod(logits.shape[axis + 1:])
        logp = F.log_softmax(logits, dim=axis).clamp_min(LOG_FLT_MIN).reshape(outer, c, inner)
        lab = label.reshape(outer, 1, inner).to(torch.int64)
        valid = torch.ones_like(lab, dtype=torch.bool) if self.ignore is None else lab != self.ignore
        picked = logp.gather(1, torch.where(valid, lab, torch.zeros_like(lab)))
        loss = -(picked * valid).sum() / _normalizer(self.mode, outer, inner, valid.sum().to(logits.dtype))
        return [loss, F.softmax(logits, dim=axis)][:len(self.tops)]


class EuclideanLoss(Layer):
    caffe_type = "EuclideanLoss"

    def forward(self, a, b):
        d = a - b.reshape(a.shape)
        return [(d * d).sum() / a.shape[0] / 2]


class Unsupported(Layer):
    def forward(self, *xs):
        raise NotImplementedError(f"layer {self.caffe_name}: {self.caffe_type} is not exported")


TYPES = {cls.caffe_type: cls for cls in (Convolution, Deconvolution, InnerProduct, ReLU, Pooling, Dropout, BatchNorm, Scale,
                                         Softmax, Reshape, Flatten, Concat, Slice, Split, Silence, Eltwise, Power,
                                         Parameter, SparseHypercolumnExtractor, SoftmaxKLDLoss, SoftmaxWithLoss,
                                         EuclideanLoss, Projection, ResampleAdd)}
