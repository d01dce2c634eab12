"""Evaluation: the paper's colorization metrics (metrics: RMSE in alpha-beta, PSNR), the benchmark
protocol over a set of photos and its figures (colorization), and FCN's scoring of semantic
segmentation on PASCAL VOC (segmentation).

May import: pycolorize.data, pycolorize.colorization, pycolorize.models, pycolorize.engine and
pycolorize.util.
"""
