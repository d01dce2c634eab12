"""Edit latency of `pycolorize serve` (a benchmark, not a test):

    python -m pycolorize.serve.bench --prototxt demo_out/deploy.prototxt --weights demo_out/model.caffemodel.h5

For a 512 x 512 photo (the net runs once), the time of each kind of edit the page sends (Session.render:
the Eq. 5 biases, the decoding, upsampling and colour formation at the preview size, without PNG
encoding), beside the same edit in the released order (histograms upsampled to the photo once and
kept, then biased and decoded at every pixel: Colorizer(exact_upsample=True)), measured in the same
run; and the PNG encoding the page adds."""
import argparse
import io
import time

import numpy as np


def _time(f, repeat):
    f()  # warm (masks and previews are cached on first use, as in a session)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best * 1000


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prototxt", default="demo_out/deploy.prototxt")
    ap.add_argument("--weights", default="demo_out/model.caffemodel.h5")
    ap.add_argument("--size", type=int, default=512, help="the canvas")
    ap.add_argument("--photo", type=int, default=512, help="the photo's side")
    ap.add_argument("--repeat", type=int, default=5, help="runs per edit; the best is reported")
    args = ap.parse_args(argv)

    from PIL import Image

    from pycolorize.colorization.colorizer import Colorizer
    from .session import Session, parse_state

    rng = np.random.default_rng(0)
    small = (rng.random((6, 6, 3)) * 255).astype(np.uint8)
    photo = np.asarray(Image.fromarray(small).resize((args.photo, args.photo), Image.BICUBIC))
    c = Colorizer(args.prototxt, args.weights, size=args.size)
    t = time.perf_counter()
    s = Session(c, photo)
    net_ms = (time.perf_counter() - t) * 1000
    exact = Colorizer(args.prototxt, args.weights, size=args.size, exact_upsample=True)
    hist = exact.predict(photo)
    stroke = {"points": [[0.2, 0.3], [0.5, 0.5], [0.7, 0.4]], "radius": 0.05, "color": "#2060e0", "strength": 10}
    edits = {"automatic": {}, "hue + chroma sliders": {"hue": 0.3, "hue_strength": 4, "chroma": 2},
             "another sample": {"sample": 3}, "decoding mode:mode": {"param": "mode:mode"},
             "3 brush strokes": {"hue": 0.3, "hue_strength": 4, "strokes": [stroke] * 3}}
    print(f"photo {args.photo} x {args.photo}, canvas {args.size}, network window {s.pred.shape}; "
          f"upload (the net, once): {net_ms:.0f} ms")
    print(f"{'edit':24s} {'page (ms)':>10s} {'released order (ms)':>20s} {'ratio':>7s}")
    for name, state in edits.items():
        state = parse_state(state)
        ours = _time(lambda: s.render(state), args.repeat)

        def released():
            b = s.biases(state)
            if any(np.ndim(v) == 3 for v in b.values()):  # per-pixel biases need the photo's resolution
                return None
            return exact.decode_histograms(hist, photo, b, state["param"])

        ref = _time(released, max(1, args.repeat // 2)) if released() is not None else float("nan")
        print(f"{name:24s} {ours:10.0f} {ref:20.0f} {ref / ours:6.1f}x")
    rgb = s.render(parse_state({}))
    png = _time(lambda: Image.fromarray((rgb * 255).astype(np.uint8)).save(io.BytesIO(), format="PNG", compress_level=1),
                args.repeat)
    print(f"{'PNG encoding (added)':24s} {png:10.0f}")
    print("(the released order has no local edit: a per-pixel bias would need its histograms biased at full resolution)")


if __name__ == "__main__":
    main()
