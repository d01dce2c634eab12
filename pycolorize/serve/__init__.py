"""`pycolorize serve`: a local web page for recolouring a photo by hand, the human-in-the-loop
colorization the paper's Sec. 3.4 points to.

The net runs once per photo (Colorizer.prepare: its hue and chroma histograms at the network's
resolution); every edit then decodes those histograms again (Colorizer.render) with Eq. 5's bias:
a global one from the sliders (hue pull towards an angle, chroma strength), a coherent sample's, a
reference photo's, and local ones from brush strokes, each a pull towards the picked colour
weighted by the stroke's soft mask. Nothing is written to disk; a request never names a file.

    session.py   the photo, its prediction and the decoding of an edit state (no web code)
    app.py       the Starlette application (routes, limits, sessions)
    static/      the page: index.html, app.js, style.css (plain files, no build step)

May import: the library below it (colorization, data, models, engine, util); only the `serve`
command imports it.
"""
