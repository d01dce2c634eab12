"""Colour: the paper's colour maths (gray, hue/chroma, Lab, bins; color), resampling as the released
package did (resample), decoding histograms to colours (decode), histogram transfer (transfer),
sampling colorizations (sampling), temperature calibration (calibration), and the Colorizer that
turns a photo into colours with a deploy net (colorizer).

May import: pycolorize.engine, pycolorize.models and pycolorize.util.
"""
from .colorizer import Colorizer, Prediction

__all__ = ["Colorizer", "Prediction"]
