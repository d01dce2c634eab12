"""A finite-difference gradient checker for whole nets (after Caffe's GradientChecker).

The objective is f = sum over net outputs of <r_o, y_o> (r_o fixed random weights) plus the loss
outputs times their loss weights; its analytic gradient is what ``net.backward()`` computes with
r_o placed in the output diffs. Each checked element x is compared with the central difference
(f(x + h) - f(x - h)) / 2h, passing when |analytic - numeric| <= threshold * max(|analytic|, |numeric|, 1).
The random seed is reset before every forward pass so Dropout draws the same mask each time.
The net must be built with ``force_backward: true`` so that input gradients are computed.
"""
import numpy as np

from pycolorize.engine.runtime import set_random_seed


def _objective(net, weights, seed):
    set_random_seed(seed)
    net.forward_layers()
    blobs = net.blobs
    lw = net.blob_loss_weights
    f = 0.0
    for name in net.outputs:
        data = blobs[name].data.astype(np.float64)
        f += float(lw[name]) * float(data.sum()) if lw[name] else float((weights[name] * data).sum())
    return f


def check_gradients(net, step=1e-2, threshold=1e-2, max_checks=60, seed=1234, wrt=None, skip_kinks=False):
    """Check d f / d (inputs and parameters) of `net` at its current input values.

    skip_kinks: in a deep net some ReLU or max-pool input lies within `step` of its kink for
    almost any choice of point, and there the central difference averages two slopes. With
    skip_kinks, an element whose one-sided differences (f(x+h) - f(x))/h and (f(x) - f(x-h))/h
    disagree by more than the threshold is not smooth at this scale and is skipped (Caffe's
    checker skips kinks of the layer under test the same way); more than a fifth of the checks
    skipped is a failure.

    wrt: names of input blobs and ``"layer[i]"`` parameter blobs to check (default: every input
    blob that receives a gradient and every parameter). Up to `max_checks` random elements per
    blob are checked. Returns the number of elements checked; raises AssertionError with the
    first failures otherwise.
    """
    rng = np.random.RandomState(seed)
    blobs = net.blobs
    lw = net.blob_loss_weights
    weights = {o: rng.randn(*blobs[o].shape) for o in net.outputs if not lw[o]}
    _objective(net, weights, seed)
    for name, b in blobs.items():
        if not lw[name]:
            b.diff[...] = 0
    for o, w in weights.items():
        blobs[o].diff[...] = w
    net.clear_param_diffs()
    net.backward_layers()

    needs = {bottom for layer, bottoms in net.bottom_names.items()
             for bottom, need in zip(bottoms, net.bottom_needs_backward(layer)) if need}
    targets = {name: blobs[name] for name in net.inputs if name in needs}
    for layer, params in net.params.items():
        for i, p in enumerate(params):
            targets[f"{layer}[{i}]"] = p
    if wrt is not None:
        targets = {k: targets[k] for k in wrt}
    analytic = {k: b.diff.astype(np.float64).copy() for k, b in targets.items()}

    failures, checked, kinks = [], 0, 0
    f0 = _objective(net, weights, seed)
    for key, blob in targets.items():
        shape = blob.data.shape
        size = int(np.prod(shape))
        idx = rng.choice(size, size=min(max_checks, size), replace=False)

        def put(i, v):
            # a fresh view each time: taking `.data` marks the host copy as the current one, so
            # that in GPU mode the next forward pass uploads the perturbed value
            blob.data.reshape(-1)[i] = v

        for i in idx:
            x0 = blob.data.reshape(-1)[i]
            put(i, x0 + step)
            fp = _objective(net, weights, seed)
            put(i, x0 - step)
            fm = _objective(net, weights, seed)
            put(i, x0)
            numeric = (fp - fm) / (2 * step)
            a = analytic[key].reshape(-1)[i]
            scale = max(abs(a), abs(numeric), 1.0)
            checked += 1
            if skip_kinks:
                fwd, bwd = (fp - f0) / step, (f0 - fm) / step
                if abs(fwd - bwd) > threshold * max(abs(fwd), abs(bwd), 1.0):
                    kinks += 1
                    continue
            if abs(a - numeric) > threshold * scale:
                failures.append(f"{key}[{np.unravel_index(i, shape)}]: analytic {a:.6g} numeric {numeric:.6g}")
    _objective(net, weights, seed)  # leave the net at the unperturbed point
    if kinks > checked // 5:
        failures.append(f"{kinks} of {checked} checked elements sit at a kink (non-smooth within the step); "
                        "the check says too little: use a smaller step or another point")
    if failures:
        raise AssertionError(f"{len(failures)} of {checked} gradient checks failed:\n  " + "\n  ".join(failures[:10]))
    return checked - kinks
