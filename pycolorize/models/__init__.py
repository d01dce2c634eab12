"""The networks: prototxt text generated for any width and output space (nets: the paper's training,
from-scratch, deploy and segmentation nets, and their solvers), VGG-16 made gray for the trunk
(vgg), and a snapshot's trunk exported for another network (trunk).

May import: pycolorize.engine and pycolorize.util. The generator's names are importable from here:
``pycolorize.models.train_net(...)``.
"""
from .nets import (DEPLOY, prototxt_path, VGG16, TINY, BLOCKS, HYPERCOLUMN, STRIDES, VARIANTS, VOC_CLASSES,
                   SEGMENTATION_SOLVER, columns, channels, train_net, scratch_net, deploy_net,
                   segmentation_net, solver_text)

__all__ = ["DEPLOY", "prototxt_path", "VGG16", "TINY", "BLOCKS", "HYPERCOLUMN", "STRIDES", "VARIANTS", "VOC_CLASSES", "SEGMENTATION_SOLVER",
           "columns", "channels", "train_net", "scratch_net", "deploy_net", "segmentation_net", "solver_text"]
