"""The colorization networks as prototxt text, generated for any width (the full VGG-16 of the paper
or the narrow "tiny" copy the demo trains on two CPU cores).

    text = train_net("hue_chroma")           # the training net (sparse hypercolumns, losses)
    text = deploy_net()                      # the dense inference net (prototxt/colorize_deploy.prototxt)

Both share the layer names of the released model (conv1_1 ... fc7, h_fc1, prediction_h,
prediction_c), so weights move between them: h_fc1 and the heads are InnerProduct layers in
training (they see one hypercolumn per row) and 1x1 Convolutions in the dense net; the weights are
the same numbers, shaped (out, in) and (out, in, 1, 1) (pycolorize.load_weights accepts either).

Training net inputs (set from Python, see pycolorize.data): ``data`` (N, 1, H, W) gray in [0, 1];
``centroids`` (N, P, 2) sample rows and columns; and per variant, for the N*P samples:
  hue_chroma  ``hist_h``, ``hist_c`` (N*P, 32) one-hot bins, ``chroma`` (N*P,) the hue loss weight
  lab_k32     ``hist_a``, ``hist_b`` (N*P, 32) one-hot Gaussian-quantile bins
  lab_16x16   ``hist_ab`` (N*P, 256) one-hot joint bins
  lab_l2      ``ab`` (N*P, 2) = (a, b) / 100
The paper's loss for hue/chroma (Sec. 3.4): KL(y_C||f_C) + lambda_H * y_C * KL(y_H||f_H), lambda_H = 5,
written as two SoftmaxKLDLoss layers (FULL normalisation: the mean over the N*P samples), the hue one
masked by the chroma. (The authors' later from-scratch trainer also weights the chroma loss by a
lightness-dependent factor and uses BatchNorm; this is the ECCV model, as the released weights are.)
"""

import os

from pycolorize.models import spaces

# The project's prototxt files (prototxt/ in the source tree, package data pycolorize.prototxt when
# installed; prototxt/README.md is their schema). The released model's dense net:
DEPLOY = "colorize_deploy.prototxt"


def prototxt_path(name):
    """The path of the project's prototxt file `name` (e.g. DEPLOY), from any folder: the copy
    installed with the package (package data pycolorize.prototxt, read with importlib.resources;
    on Python 3.9, which cannot read a package without an __init__ that way, found beside the
    package's files), else the source tree's prototxt/ (a build in place). A name that is in none
    gives the source tree's path, for the error to name."""
    from importlib import resources

    try:
        found = resources.files("pycolorize.prototxt") / name
        if found.is_file():
            return os.fspath(found)
    except (ModuleNotFoundError, TypeError, NotADirectoryError):  # a source tree, or Python 3.9
        pass
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    installed = os.path.join(package, "prototxt", name)
    if os.path.isfile(installed):
        return installed
    return os.path.join(os.path.dirname(package), "prototxt", name)


VGG16 = {"conv": (64, 128, 256, 512, 512), "fc": 4096, "h_fc1": 1024}
# The demo's model: VGG-16's convolutions at full width (so that pretrained conv1-conv5 weights
# load), narrow fc6/fc7 and h_fc1.
TINY = {"conv": (64, 128, 256, 512, 512), "fc": 256, "h_fc1": 128}
BLOCKS = (2, 2, 3, 3, 3)  # convolutions per VGG block
# The 16 hypercolumn layers of the paper (Sec. 3.5; fact sheet 1.5) and their strides.
HYPERCOLUMN = ["data", "conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
               "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3", "fc6", "fc7"]
STRIDES = [1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32]
VARIANTS = tuple(spaces.SPACES)  # the output spaces (models.spaces)

_WB = 'param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }'


def columns(widths=VGG16):
    """(layer names, strides) of the hypercolumn: the paper's 16 layers, or the 14 up to conv5_3
    for widths without fc6/fc7 ("fc": 0)."""
    n = len(HYPERCOLUMN) - (0 if widths["fc"] else 2)
    return HYPERCOLUMN[:n], STRIDES[:n]


def channels(widths=VGG16):
    """Channels of each hypercolumn layer, in order (sum 12417 for VGG-16)."""
    c = [1]
    for block, n in enumerate(BLOCKS):
        c += [widths["conv"][block]] * n
    return c + ([widths["fc"], widths["fc"]] if widths["fc"] else [])


def _conv(name, bottom, n, k, pad, filler="", lr_mult=1, batchnorm=False):
    fill = f' weight_filler {{ {filler} }}' if filler else ""
    wb = _WB if lr_mult == 1 else f'param {{ lr_mult: {lr_mult:g} decay_mult: 1 }} param {{ lr_mult: {2 * lr_mult:g} decay_mult: 0 }}'
    # BatchNorm between the convolution and its ReLU, in place, without a Scale layer, its three
    # statistics blobs never learned (lr_mult 0), as the authors' from-scratch trainer has it
    bn = (f'layer {{ name: "{name}_bn" type: "BatchNorm" bottom: "{name}" top: "{name}"\n'
          f'  param {{ lr_mult: 0 decay_mult: 0 }} param {{ lr_mult: 0 decay_mult: 0 }} param {{ lr_mult: 0 decay_mult: 0 }} }}\n'
          if batchnorm else "")
    return (f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{name}" {wb}\n'
            f'  convolution_param {{ num_output: {n} kernel_size: {k} pad: {pad}{fill} }} }}\n{bn}'
            f'layer {{ name: "relu_{name}" type: "ReLU" bottom: "{name}" top: "{name}" }}\n')


def _trunk(widths, filler, dropout=True, conv_lr_mult=1, batchnorm=False):
    """VGG-16 on one gray channel: fc6 a 7x7 pad-3 convolution, fc7 1x1, ReLU after each, Dropout
    (identity at test time) after fc6 and fc7 (none of the two when widths["fc"] is 0; pool5 is
    then left out too). conv_lr_mult 0 freezes conv1_1 .. conv5_3; batchnorm puts a BatchNorm
    layer after every convolution, fc6 and fc7 included."""
    out, bottom = "", "data"
    for block, n in enumerate(BLOCKS):
        for i in range(n):
            name = f"conv{block + 1}_{i + 1}"
            out += _conv(name, bottom, widths["conv"][block], 3, 1, filler, conv_lr_mult, batchnorm)
            bottom = name
        if block == len(BLOCKS) - 1 and not widths["fc"]:
            break
        out += (f'layer {{ name: "pool{block + 1}" type: "Pooling" bottom: "{bottom}" top: "pool{block + 1}"\n'
                f'  pooling_param {{ pool: MAX kernel_size: 2 stride: 2 }} }}\n')
        bottom = f"pool{block + 1}"
    for name, bottom, k, pad in (("fc6", "pool5", 7, 3), ("fc7", "fc6", 1, 0)) if widths["fc"] else ():
        out += _conv(name, bottom, widths["fc"], k, pad, filler, batchnorm=batchnorm)
        if dropout:
            out += (f'layer {{ name: "dropout_{name}" type: "Dropout" bottom: "{name}" top: "{name}"\n'
                    f'  dropout_param {{ dropout_ratio: 0.5 }} }}\n')
    return out


def _input(name, *dims):
    return f'layer {{ name: "{name}" type: "Input" top: "{name}" input_param {{ shape {{ {" ".join(f"dim: {d}" for d in dims)} }} }} }}\n'


def _ip(name, bottom, n, filler='type: "xavier"'):
    return (f'layer {{ name: "{name}" type: "InnerProduct" bottom: "{bottom}" top: "{name}" {_WB}\n'
            f'  inner_product_param {{ num_output: {n} weight_filler {{ {filler} }} }} }}\n')


def _kld(name, pred, target, weight, mask=None):
    m = f' bottom: "{mask}"' if mask else ""
    return (f'layer {{ name: "{name}" type: "SoftmaxKLDLoss" bottom: "{pred}" bottom: "{target}"{m} top: "{name}"\n'
            f'  loss_weight: {weight} loss_param {{ normalization: FULL }} }}\n')


def train_net(variant="hue_chroma", widths=VGG16, batch=8, crop=256, samples=128, head_dropout=True,
              trunk_filler="", freeze_conv=False, batchnorm=False, lightness_weight=False, h_fc1_filler='type: "xavier"',
              name=None):
    """The training net of one output space. `trunk_filler` initialises the VGG convolutions (empty:
    zeros, to be loaded from VGG-16-Gray weights, as the paper fine-tunes ImageNet weights);
    `head_dropout` adds Dropout 0.5 after h_fc1, as the authors' released trainer does;
    `freeze_conv` keeps conv1_1 .. conv5_3 fixed (lr_mult 0: their backward pass is skipped);
    `batchnorm` puts BatchNorm after every trunk convolution (see scratch_net); `lightness_weight`
    (hue/chroma only) adds the input ``chroma_weight`` (N*P,) that weights the chroma loss."""
    space = spaces.space(variant)
    if lightness_weight and not any(h.lightness_weighted for h in space.heads):
        raise ValueError("lightness_weight weights the chroma loss: it needs the hue_chroma variant")
    n = batch * samples
    out = (f'name: "{name or "colorize_train_" + variant}"\n' + _input("data", batch, 1, crop, crop)
           + _input("centroids", batch, samples, 2))
    for target, k in space.targets:
        out += _input(target, n) if k is None else _input(target, n, k)
    if lightness_weight:
        out += _input("chroma_weight", n)
    out += _trunk(widths, trunk_filler, conv_lr_mult=0 if freeze_conv else 1, batchnorm=batchnorm)
    names, strides = columns(widths)
    scales = " ".join(f"scale: {s} offset_height: {(s - 1) / 2:g} offset_width: {(s - 1) / 2:g}" for s in strides)
    bottoms = " ".join(f'bottom: "{b}"' for b in names)
    out += (f'layer {{ name: "hypercolumn" type: "SparseHypercolumnExtractor" bottom: "centroids" {bottoms}\n'
            f'  top: "hypercolumn" sparse_hypercolumn_extractor_param {{ {scales} }} }}\n')
    out += _ip("h_fc1", "hypercolumn", widths["h_fc1"], h_fc1_filler)
    out += 'layer { name: "relu_h_fc1" type: "ReLU" bottom: "h_fc1" top: "h_fc1" }\n'
    if head_dropout:
        out += 'layer { name: "dropout_h_fc1" type: "Dropout" bottom: "h_fc1" top: "h_fc1" dropout_param { dropout_ratio: 0.5 } }\n'
    for h in space.heads:
        out += _ip(f"prediction_{h.name}", "h_fc1", h.bins)
    for h in space.heads:
        pred, loss = f"prediction_{h.name}", f"loss_{h.name}"
        if not space.histogram:
            out += (f'layer {{ name: "{loss}" type: "EuclideanLoss" bottom: "{pred}" bottom: "{h.target}" '
                    f'top: "{loss}" }}\n')
            continue
        mask = "chroma_weight" if lightness_weight and h.lightness_weighted else h.mask
        out += _kld(loss, pred, h.target, f"{h.loss_weight:g}", mask=mask)
    return out


def scratch_net(widths=VGG16, batch=8, crop=352, samples=128):
    """The from-scratch colorization trainer of the paper's Sec. 5 (Table 5), as the authors released
    it (fact sheet 2.2), where the paper's text is silent: BatchNorm (batch statistics in training,
    the running averages in the snapshots) after every convolution of the trunk, fc6 and fc7; Xavier
    initialisation with zero biases; Dropout 0.5 after fc6, fc7 and h_fc1; h_fc1 drawn from a Gaussian
    of std 1e-4; the chroma loss weighted per sample by chroma_weight = min(3L, 1, 3(1 - L)) of the
    gray L there (pycolorize.data makes it), which the paper's Eq. 3 does not have; 352 crops.

    Where we differ from the released file, on purpose: its missing hypercolumn offsets and its
    7*128-row constants for a batch of 8 (fact sheet 8.1, 8.2) are bugs, fixed here; its input is
    shifted by -0.4488 and ours is not, so that the exported trunk reads the same [0, 1] gray as the
    ECCV model and the colorizer (the BatchNorm after conv1_1 removes the shift anyway, except in the
    zero padding of conv1_1 and in the hypercolumn's gray channel, which h_fc1's bias absorbs)."""
    return train_net("hue_chroma", widths, batch, crop, samples, head_dropout=True, trunk_filler='type: "xavier"',
                     batchnorm=True, lightness_weight=True, h_fc1_filler='type: "gaussian" std: 0.0001',
                     name="colorize_train_scratch")


def _upsample(name, bottom, c, factor):
    """The dense net's bilinear upsampling: Reshape to (N*C, 1, h, w), one single-channel
    Deconvolution with a fixed bilinear kernel, Reshape back (as the released template)."""
    k, s, p = 2 * factor, factor, factor // 2
    return (f'layer {{ name: "{bottom}_reshaped" type: "Reshape" bottom: "{bottom}" top: "{bottom}_reshaped"\n'
            f'  reshape_param {{ shape {{ dim: -1 dim: 1 }} axis: 0 num_axes: 2 }} }}\n'
            f'layer {{ name: "{name}_reshaped" type: "Deconvolution" bottom: "{bottom}_reshaped" top: "{name}_reshaped"\n'
            f'  convolution_param {{ kernel_size: {k} stride: {s} num_output: 1 group: 1 pad: {p} '
            f'weight_filler {{ type: "bilinear" }} bias_term: false }} param {{ lr_mult: 0 decay_mult: 0 }} }}\n'
            f'layer {{ name: "{name}" type: "Reshape" bottom: "{name}_reshaped" top: "{name}"\n'
            f'  reshape_param {{ shape {{ dim: -1 dim: {c} }} axis: 0 num_axes: 2 }} }}\n')


def deploy_net(widths=VGG16, size=512, name="autocolorize", variant="hue_chroma"):
    """The dense inference net (the released template's structure): the hypercolumn at 1/4
    resolution (AVE pooling for data, conv1, conv2; conv3 as is; x2/x4/x8 bilinear upsampling for
    conv4, conv5, fc6/fc7), h_fc1 and the heads as 1x1 convolutions, softmax, x4 upsampling of the
    histograms to the input size. The hue/chroma net outputs prediction_h_full and prediction_c_full,
    (1, 32, S, S); the Lab nets prediction_a_full/prediction_b_full, or prediction_ab_full (256
    joint bins, or the two regressed values (a, b) / 100 without a softmax)."""
    space = spaces.space(variant)
    out = f'name: "{name}"\n' + _input("data", 1, 1, size, size) + _trunk(widths, "")
    cols = []
    names, strides = columns(widths)
    for layer, c, s in zip(names, channels(widths), strides):
        if s < 4:
            out += (f'layer {{ name: "{layer}_full" type: "Pooling" bottom: "{layer}" top: "{layer}_full"\n'
                    f'  pooling_param {{ kernel_size: {4 // s} stride: {4 // s} pool: AVE pad: 0 }} }}\n')
            cols.append(f"{layer}_full")
        elif s == 4:
            cols.append(layer)
        else:
            out += _upsample(f"{layer}_full", layer, c, s // 4)
            cols.append(f"{layer}_full")
    out += ('layer { name: "dense_hypercolumn" type: "Concat" ' + " ".join(f'bottom: "{c}"' for c in cols)
            + ' top: "dense_hypercolumn" concat_param { axis: 1 } }\n')
    out += _conv("h_fc1", "dense_hypercolumn", widths["h_fc1"], 1, 0)
    for h in space.heads:
        out += (f'layer {{ name: "prediction_{h.name}" type: "Convolution" bottom: "h_fc1" top: "prediction_{h.name}" {_WB}\n'
                f'  convolution_param {{ num_output: {h.bins} kernel_size: 1 pad: 0 }} }}\n')
    if not space.histogram:
        return out + "".join(_upsample(f"prediction_{h.name}_full", f"prediction_{h.name}", h.bins, 4) for h in space.heads)
    for h in space.heads:
        out += (f'layer {{ name: "prediction_{h.name}_softmax" type: "Softmax" bottom: "prediction_{h.name}" '
                f'top: "prediction_{h.name}_softmax" }}\n')
    for h in space.heads:
        out += _upsample(f"prediction_{h.name}_full", f"prediction_{h.name}_softmax", h.bins, 4)
    return out


VOC_CLASSES = 21


def segmentation_net(widths=VGG16, batch=8, crop=320, classes=VOC_CLASSES, color=False, deploy=False,
                     trunk_filler="", batchnorm=False, dropout=True, name=None):
    """FCN-32s (Long et al. 2015) on the colorization trunk, for the paper's Table 6: conv1_1 .. fc7
    as trained for colorization (fc6 a 7x7 pad-3 convolution, so the exported trunk loads as is and
    the score map is the input's size / 32), `score_fr` a 1x1 convolution to the classes (zero
    initialised, as FCN does), `upscore` a fixed bilinear x32 upsampling (Deconvolution kernel 64,
    stride 32, pad 16, one group per class) back to the input size, and per-pixel SoftmaxWithLoss
    that ignores label 255 (VOC's object borders) and averages over the pixels not ignored.

    We use FCN-32s rather than a hypercolumn head because Table 6 measures the representation the
    trunk learned: FCN-32s reads only fc7, the baseline numbers it compares with (random init,
    ImageNet-label VGG-16) are FCN-32s's, and its memory suits full VOC images. FCN itself pads
    conv1_1 by 100 and crops the score map, to reuse a classifier's 7x7 valid fc6; our trunk's fc6
    is already convolutional with pad 3, so inputs whose sides are multiples of 32 need no crop
    (pycolorize evaluate-segmentation pads each image up to one and crops the scores back).

    Inputs: ``data`` (N, 1, S, S) gray in [0, 1] (``color``: (N, 3, S, S) RGB in [0, 1], for a
    trunk exported with --color) and, for training, ``label`` (N, 1, S, S) class indices or 255.
    The deploy net (``deploy``: one image, no dropout, no loss) outputs ``score`` (1, classes, S, S).
    `trunk_filler` empty: the trunk is loaded (pycolorize export-trunk); e.g. 'type: "xavier"' with
    `batchnorm` for the random-initialisation row. `dropout` False drops FCN's Dropout after fc6 and
    fc7 (for narrow test nets, where it is mostly noise)."""
    if crop % 32:
        raise ValueError(f"the crop ({crop}) must be a multiple of 32 (the trunk's stride)")
    n = 1 if deploy else batch
    out = (f'name: "{name or ("segmentation_deploy" if deploy else "segmentation_train")}"\n'
           + _input("data", n, 3 if color else 1, crop, crop))
    if not deploy:
        out += _input("label", n, 1, crop, crop)
    out += _trunk(widths, trunk_filler, dropout=dropout and not deploy, batchnorm=batchnorm)
    out += (f'layer {{ name: "score_fr" type: "Convolution" bottom: "fc7" top: "score_fr" {_WB}\n'
            f'  convolution_param {{ num_output: {classes} kernel_size: 1 pad: 0 weight_filler {{ type: "constant" value: 0 }} }} }}\n'
            f'layer {{ name: "upscore" type: "Deconvolution" bottom: "score_fr" top: "score" param {{ lr_mult: 0 decay_mult: 0 }}\n'
            f'  convolution_param {{ num_output: {classes} group: {classes} kernel_size: 64 stride: 32 pad: 16 bias_term: false '
            f'weight_filler {{ type: "bilinear" }} }} }}\n')
    if not deploy:
        out += ('layer { name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" top: "loss"\n'
                '  loss_param { ignore_label: 255 normalization: VALID } }\n')
    return out


# FCN-32s's optimiser (Long et al.: SGD, momentum 0.99, weight decay 5e-4, a fixed rate of 1e-10 on a
# loss summed over the ~2e5 pixels of one VOC image). Our loss is the mean over the valid pixels
# (VALID), so the same step is base_lr ~2e-5. The number of iterations is chosen by cross-validated
# early stopping (the paper's one adjustment), not fixed here: max_iter is an upper bound.
SEGMENTATION_SOLVER = dict(base_lr=2e-5, momentum=0.99, weight_decay=0.0005, max_iter=100000, snapshot=2000,
                           prefix="snapshots/segmentation", average_loss=20)


def solver_text(net_path, base_lr=0.001, max_iter=2000000, steps=(1000000, 1500000, 1750000), prefix="snapshots/snapshot",
                snapshot=10000, momentum=0.9, weight_decay=0.0005, display=5, average_loss=250, random_seed=None):
    """A solver prototxt; the defaults are the authors' released solver (fact sheet section 3).
    No steps: a fixed learning rate."""
    lines = [f'net: "{net_path}"', 'type: "SGD"', f"base_lr: {base_lr:g}", f"momentum: {momentum:g}",
             f"weight_decay: {weight_decay:g}"]
    lines += ['lr_policy: "multistep"', "gamma: 0.1"] + [f"stepvalue: {s}" for s in steps] if steps else ['lr_policy: "fixed"']
    lines += [f"max_iter: {max_iter}", f"display: {display}", f"average_loss: {average_loss}", f"snapshot: {snapshot}",
              f'snapshot_prefix: "{prefix}"', "snapshot_format: HDF5"]
    if random_seed is not None:
        lines.append(f"random_seed: {random_seed}")
    return "\n".join(lines) + "\n"
