"""Photographs that the dependencies ship, by name: scikit-image's sample photos and matplotlib's
portrait of Grace Hopper. The demo trains and tests on them, `pycolorize rmse-readings` reads the
paper's metric on them, and the benchmark enlarges one into a big photo."""
import warnings

import numpy as np


def sample_photo(name):
    """uint8 RGB (H, W, 3) of a photo: a scikit-image data name ("coffee", "astronaut", "chelsea",
    "rocket", ...), "motorcycle_left" or "motorcycle_right" (the views of scikit-image's stereo
    pair) or "grace_hopper" (matplotlib's). ImportError when the package that ships it is missing."""
    if name == "grace_hopper":
        from matplotlib import cbook
        from PIL import Image

        with cbook.get_sample_data("grace_hopper.jpg") as f, Image.open(f) as im:
            return np.asarray(im.convert("RGB"))
    import skimage.data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-image's notes about its data cache
        if name in ("motorcycle_left", "motorcycle_right"):
            a = skimage.data.stereo_motorcycle()[0 if name.endswith("left") else 1]
        else:
            a = getattr(skimage.data, name)()
    a = np.asarray(a)
    if a.dtype == bool:  # a black-and-white mask ("horse", "binary_blobs")
        a = a.astype(np.uint8) * 255
    if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4))):
        raise ValueError(f"scikit-image's {name!r} is not a photo ({a.dtype} array of shape {a.shape})")
    if a.ndim == 2:  # a gray photo ("camera", "moon", ...): its gray in every channel
        return np.repeat(a[..., None], 3, axis=-1)
    return a[..., :3]
