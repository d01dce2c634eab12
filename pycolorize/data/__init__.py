"""Data: image files and their decoding (images), the sources training reads, by type (sources:
folders, Caffe image lists, HDF5; voc: PASCAL VOC segmentation pairs), and the training examples
and the Loader that batches them (loader).

May import: pycolorize.colorization, pycolorize.models, pycolorize.engine and pycolorize.util.

    source = pycolorize.data.open_source({"type": "folder", "path": "photos/"})
    loader = pycolorize.data.Loader(source, batch=8, crop=256, variant="hue_chroma", seed=0)
"""
from . import shards, voc  # noqa: F401  (register the "tar" and "voc" source types)
from .images import EXTENSIONS, find_images, load_image, read_list
from .loader import PER_IMAGE, Loader, TooSmall, lightness_weight, make_example, targets
from .sources import Source, folder_source, hdf5_source, list_source, open_source

__all__ = ["EXTENSIONS", "find_images", "load_image", "read_list", "PER_IMAGE", "Loader", "TooSmall",
           "lightness_weight", "make_example", "targets", "Source", "folder_source", "hdf5_source", "list_source",
           "open_source"]
