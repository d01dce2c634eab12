"""`pycolorize serve`: a local web page for recolouring photos by hand (pycolorize.serve)."""
import os

from pycolorize.cli import EXIT_CODES, CommandError, add_gpu, select_gpu

DEMO_DIR = "demo_out"  # where `pycolorize demo` writes its model by default (cli_demo's -o)
DEMO_PROTOTXT, DEMO_WEIGHTS = os.path.join(DEMO_DIR, "deploy.prototxt"), os.path.join(DEMO_DIR, "model.caffemodel.h5")

SUMMARY = "a local web page to recolour photos by hand (needs pycolorize[serve])"

DESCRIPTION = """\
Serve a web page, on this computer only unless --host says otherwise, for recolouring photos by hand:
choose or drop a photo, the network colorizes it once, then sliders (a hue to pull towards, chroma
strength: the bias of the paper's Eq. 5), the decoding, coherent samples, a reference photo's
colours, and a brush that pulls a region towards a picked colour recolour it from the network's
cached histograms, without running it again. An uncertainty overlay (hue entropy x chroma) shows
where edits matter; undo, redo, compare, and download at the photo's full size.

The model defaults to the one `pycolorize demo` trains into demo_out/ of the current folder. Photos
stay in the server's memory (at most --max-sessions, the least recently used dropped) and are never
written to disk. Needs Starlette and uvicorn: pip install "pycolorize[serve]"."""

EPILOG = f"""\
examples:
  pycolorize demo && pycolorize serve       # train the tiny model, then open http://127.0.0.1:8000
  pycolorize serve --prototxt prototxt/colorize_deploy.prototxt --weights autocolorize.caffemodel.h5 --port 8080

{EXIT_CODES}"""


def add_arguments(ap):
    ap.add_argument("--prototxt", default=DEMO_PROTOTXT, help="the dense hue/chroma deploy net")
    ap.add_argument("--weights", default=DEMO_WEIGHTS, help="its Caffe HDF5 weights")
    ap.add_argument("--size", type=int, default=512, help="canvas side S, a multiple of 32")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every network; think first)")
    ap.add_argument("--port", type=int, default=8000, help="port")
    ap.add_argument("--max-upload-mb", type=float, default=40.0, help="largest photo file accepted")
    ap.add_argument("--max-megapixels", type=float, default=50.0, help="most pixels a photo may have")
    ap.add_argument("--max-sessions", type=int, default=8, help="photos kept in memory at once")
    add_gpu(ap, "run the network")


def run(args):
    for path, what in ((args.prototxt, "--prototxt"), (args.weights, "--weights")):
        if not os.path.exists(path):
            if path in (DEMO_PROTOTXT, DEMO_WEIGHTS):
                raise CommandError(f"no model: {path} does not exist in {os.path.abspath(os.curdir)}; run `pycolorize "
                                   "demo` here first (it trains the tiny model into demo_out/), or give --prototxt "
                                   "and --weights")
            raise CommandError(f"{what} {path}: no such file")
    if not 0 < args.port < 65536:
        args._parser.error(f"--port {args.port}: not a port number (1-65535)")
    if args.max_sessions < 1:
        args._parser.error(f"--max-sessions {args.max_sessions}: at least 1 photo must fit")
    for name in ("max_upload_mb", "max_megapixels"):
        if not getattr(args, name) > 0:
            args._parser.error(f"--{name.replace('_', '-')} {getattr(args, name)}: must be a positive number")
    try:
        import uvicorn

        from pycolorize.serve.app import LOOPBACK_HOSTS, create_app
    except ImportError as e:
        if (e.name or "").partition(".")[0] == "pycolorize":  # not a missing extra: the package's own fault
            raise
        raise CommandError(f"{e.name or e}: not installed; pip install \"pycolorize[serve]\"") from None
    select_gpu(args)
    import pycolorize

    colorizer = pycolorize.Colorizer(args.prototxt, args.weights, size=args.size)
    loopback = args.host in LOOPBACK_HOSTS  # then only requests that name a loopback address are answered
    app = create_app(colorizer, max_upload_bytes=int(args.max_upload_mb * 2**20),
                     max_pixels=int(args.max_megapixels * 1e6), max_sessions=args.max_sessions,
                     allowed_hosts=LOOPBACK_HOSTS if loopback else None)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"pycolorize serve: open http://{host}:{args.port}/ (Ctrl-C stops)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
