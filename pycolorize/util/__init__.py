"""Small services every layer may use and that know nothing of networks or colour: files written
atomically, progress display, files fetched from PyPI wheels.

May import: the standard library and third-party packages only (never another pycolorize package).
"""
