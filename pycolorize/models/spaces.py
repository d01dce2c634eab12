"""The output spaces of the paper's Table 2 (Sec. 3.4, "Color spaces" and "Loss"), described once:
what a colorization net predicts per pixel, its heads, the training inputs that hold their targets,
and the losses. The training and deploy nets (nets), the training loop (which space a net is), the
Loader (which targets it makes) and the Colorizer (which outputs it decodes) all read it here.

  hue_chroma  the paper's model: 32-bin histograms of hue and of chroma (HSV-derived), KL losses,
              the hue's weighted by the chroma (lambda_H = 5) since gray pixels have no hue
  lab_k32     32-bin histograms of a and of b (Gaussian-quantile bins), KL losses
  lab_16x16   one joint 16 x 16 histogram of (a, b), KL loss
  lab_l2      (a, b) / 100 regressed, Euclidean loss
"""
from typing import NamedTuple, Optional, Tuple


class Head(NamedTuple):
    """One prediction of a space. Its layers are prediction_<name> (training: InnerProduct on the
    sparse hypercolumn) and prediction_<name>_full (deploy: the dense map at the input's size)."""
    name: str                     # "h": the layer names' part
    key: str                      # "hue": the Colorizer's name for the decoded distribution
    bins: int                     # channels: histogram bins, or the values regressed
    target: str                   # the training net's Input blob of its targets ("hist_h")
    loss_weight: float = 1.0      # the loss's weight (Sec. 3.4: lambda_H = 5 for the hue)
    mask: Optional[str] = None    # an Input blob weighting each sample's loss ("chroma": gray has no hue)
    lightness_weighted: bool = False  # the from-scratch trainer weights this loss by chroma_weight


class OutputSpace(NamedTuple):
    name: str
    heads: Tuple[Head, ...]
    histogram: bool = True        # False: values regressed (no softmax, a Euclidean loss)
    hue_chroma: bool = False      # hue and chroma (decoded to RGB through HSV), else Lab's a and b
    extra_inputs: Tuple[str, ...] = ()  # training Input blobs besides the heads' targets

    @property
    def targets(self):
        """Every training Input blob of the targets, in order: (name, channels); channels None for
        a blob of one value per sample."""
        return tuple((h.target, h.bins) for h in self.heads) + tuple((n, None) for n in self.extra_inputs)

    @property
    def decoding(self):
        """How its outputs become colour: "hue_chroma" (hue and chroma histograms), "marginals" (one
        histogram of a and one of b), "joint" (one histogram over (a, b)) or "values" ((a, b) / 100
        regressed)."""
        if self.hue_chroma:
            return "hue_chroma"
        if not self.histogram:
            return "values"
        return "marginals" if len(self.heads) == 2 else "joint"

    @property
    def modes(self):
        """The decoding modes of a Lab space's (a, b) (a hue/chroma space's are decode's CHROMA:HUE
        pairs): the mean, the most likely bin, and the median where a and b have marginals."""
        return {"marginals": ("expectation", "mode", "median"), "joint": ("expectation", "mode")}.get(self.decoding, ())

    def deploy_blobs(self):
        """[(the deploy net's output blob, the Colorizer's key)] of the heads."""
        return [(f"prediction_{h.name}_full", h.key) for h in self.heads]


SPACES = {
    "hue_chroma": OutputSpace("hue_chroma", (Head("h", "hue", 32, "hist_h", 5.0, mask="chroma"),
                                             Head("c", "chroma", 32, "hist_c", lightness_weighted=True)),
                              hue_chroma=True, extra_inputs=("chroma",)),
    "lab_k32": OutputSpace("lab_k32", (Head("a", "a", 32, "hist_a"), Head("b", "b", 32, "hist_b"))),
    "lab_16x16": OutputSpace("lab_16x16", (Head("ab", "ab", 256, "hist_ab"),)),
    "lab_l2": OutputSpace("lab_l2", (Head("ab", "ab", 2, "ab"),), histogram=False),
}


def space(name):
    """The OutputSpace called `name`; a ValueError naming the known ones otherwise."""
    if name not in SPACES:
        raise ValueError(f"unknown variant {name!r}; choose from {', '.join(SPACES)}")
    return SPACES[name]


def of_training_inputs(inputs):
    """The space of a training net with these Input blob names (the one whose first head's target
    is among them), or None."""
    found = [s for s in SPACES.values() if s.heads[0].target in inputs]
    return found[0] if len(found) == 1 else None


def of_deploy_outputs(channels):
    """The space of a deploy net whose blobs are `channels` ({blob name: channel count}), or None.
    Two spaces share prediction_ab_full: the joint histogram and the regressed (a, b) (2 channels)."""
    for s in SPACES.values():
        blobs = [b for b, _ in s.deploy_blobs()]
        if all(b in channels for b in blobs):
            if s.decoding in ("joint", "values") and (channels[blobs[0]] == 2) != (not s.histogram):
                continue
            return s
    return None
