"""The benchmark's PyTorch twins compute the networks of the prototxts (so a change to models.py
cannot leave the benchmark timing a different net). Needs PyTorch; skipped without it."""
import os

import numpy as np
import pytest

from pycolorize import cli_benchmark as bench
from pycolorize.cli import CommandError

torch = pytest.importorskip("torch")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_dense_twin_matches_the_deploy_net(tmp_path):
    prototxt = os.path.join(ROOT, "prototxt", "tiny_deploy.prototxt")
    weights = str(tmp_path / "w.caffemodel.h5")
    bench.make_weights(weights, prototxt)
    x = np.random.RandomState(1).rand(1, 1, 64, 64).astype(np.float32)
    ours = bench.run_ours(64, 1, weights, x, False, prototxt=prototxt)
    theirs = bench.run_torch(64, 1, weights, x, False)
    assert bench.same_outputs(ours, theirs, tol=1e-4) < 1e-4
    theirs["out"] = theirs["out"][:, :, ::-1]  # a twin computing something else is refused
    with pytest.raises(CommandError, match="not the network of the prototxt"):
        bench.same_outputs(ours, theirs)


@pytest.mark.parametrize("scratch", [False, True])
def test_training_twin_has_the_prototxts_tensors(scratch):
    net = bench.torch_train_net(scratch)  # check_twin runs inside: the shapes match models.py's net
    shapes = [p.shape for p in net.parameters()]
    assert len(shapes) == 2 * (len(bench.train_prototxt(scratch).split('type: "Convolution"')) - 1 + 3)
    text = bench.train_prototxt(scratch, batch=1, crop=64, samples=1)
    with pytest.raises(CommandError, match="differs from the prototxt"):
        bench.check_twin(shapes[:-2], text)  # a head missing
    with pytest.raises(CommandError, match="differs from the prototxt"):
        bench.check_twin(shapes[2:] + shapes[:2], text)  # the same tensors in another order
