"""`pycolorize export` (also `python tools/export.py`): the dense colorization net as an ONNX graph or a
torch.export program, checked against pycolorize's own forward pass (pycolorize.export)."""
from pycolorize.cli import DEPLOY_PROTOTXT, EXIT_CODES, CommandError, add_quiet, released_model, repo_path

SUMMARY = "write the dense colorization net as ONNX or a PyTorch program, checked against ours"

DESCRIPTION = """\
Write an inference net (the dense colorization net of --prototxt, with the weights of --weights)
for another runtime:

  onnx   an ONNX graph (opset 17), for ONNX Runtime and other ONNX runtimes
  torch  a torch.export program (.pt2): torch.export.load(OUT).module()(data) returns the outputs
         as a tuple, in the order listed below, without pycolorize installed (in Python,
         pycolorize.export.to_torch gives the same net as a torch.nn.Module to fine-tune)

The graph's input and outputs carry the deploy net's blob names: data (N, 1, H, W), gray in
[0, 1], in; out, per pixel, the output space's histograms at the input's size: prediction_h_full
and prediction_c_full (hue/chroma, softmax over 32 bins), or prediction_a_full/prediction_b_full,
or prediction_ab_full (Lab). Decoding the histograms to colour stays in Python
(pycolorize.colorization.decode; an example in docs/export.md).

Sizes: the graph is traced at the prototxt's input size, or --size H W. By default its batch,
height and width axes are dynamic: it accepts any batch and any sides that are multiples of 32
(what the dense net itself accepts: its pooling and upsampling need them), square or not; the
torch program sides of 64 or more. With --static the input size is fixed at the traced one.

The file is checked before the command succeeds (unless --no-check): onnx.checker, then ONNX
Runtime (or, for torch, the loaded program) on a random input of the traced size against
pycolorize's own forward pass; the largest difference relative to each output's scale must stay
within --tolerance, else the file is removed and the command fails.

Needs PyTorch, ONNX and ONNX Runtime: pip install 'pycolorize[export]'."""

EPILOG = f"""\
examples:
  pycolorize export --format onnx -o colorize.onnx          # the released model (fetched once: pycolorize weights fetch)
  pycolorize export --format onnx --prototxt prototxt/colorize_deploy.prototxt --weights W.caffemodel.h5 -o colorize.onnx
  pycolorize export --format onnx --weights W.caffemodel.h5 -o colorize_256x384.onnx --size 256 384 --static
  pycolorize export --format torch --weights W.caffemodel.h5 -o colorize.pt2

{EXIT_CODES}"""

FORMATS = ("onnx", "torch")


def side(text):
    import argparse

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 32 or n % 32:
        raise argparse.ArgumentTypeError(f"{n} is not a positive multiple of 32 (the dense net's pooling and upsampling need it)")
    return n


def add_arguments(ap):
    ap.add_argument("--format", choices=FORMATS, default="onnx",
                    help="onnx: an ONNX graph; torch: a torch.export program (.pt2)")
    ap.add_argument("--prototxt", default=DEPLOY_PROTOTXT,
                    help="the inference net (without --weights: the released model's)")
    ap.add_argument("--weights", help="Caffe HDF5 weights; default: the released model from the cache "
                                      "(`pycolorize weights fetch` fetches it once)")
    ap.add_argument("-o", "--output", required=True, help="the file to write (.onnx, .pt2)")
    ap.add_argument("--size", type=side, nargs=2, metavar=("H", "W"),
                    help="the traced input's height and width, multiples of 32; default: the prototxt's")
    ap.add_argument("--static", action="store_true",
                    help="fix the input size at the traced one (default: batch, height and width dynamic)")
    ap.add_argument("--no-check", action="store_true", help="skip the check against pycolorize's forward pass")
    ap.add_argument("--tolerance", type=float, default=1e-4,
                    help="the largest relative difference from pycolorize's outputs the check accepts")
    add_quiet(ap, "print nothing but errors")


def _shape(shape, dynamic):
    if not dynamic or len(shape) != 4:
        return "x".join(str(d) for d in shape)
    return f"N x {shape[1]} x H x W (traced at {'x'.join(str(d) for d in shape)})"


def run(args):
    import os

    onnx = onnxruntime = None
    try:
        import torch
        if args.format == "onnx":
            import onnx
            if not args.no_check:
                import onnxruntime
    except ImportError as e:
        raise CommandError(f"export needs PyTorch, ONNX and ONNX Runtime ({e}): pip install 'pycolorize[export]'"
                           + (" (or --no-check, without ONNX Runtime)" if getattr(e, "name", "") == "onnxruntime" else "")
                           ) from None
    from pycolorize import export
    from pycolorize.models import spaces

    if args.weights is None:

        args.prototxt, args.weights = released_model(args)
    if args.prototxt == DEPLOY_PROTOTXT:
        args.prototxt = repo_path(args, DEPLOY_PROTOTXT)
    if not os.path.isfile(args.weights):
        raise CommandError(f"{args.weights}: no such weights file")
    dynamic = not args.static
    write = export.export_onnx if args.format == "onnx" else export.export_torch
    try:
        info = write(args.prototxt, args.weights, args.output, size=args.size, dynamic=dynamic)
    except NotImplementedError as e:
        raise CommandError(str(e)) from None
    say = (lambda *a: None) if args.quiet else print
    space = spaces.of_deploy_outputs({n: s[1] for n, s in info["outputs"].items() if len(s) > 1})
    what = "ONNX graph (opset {})".format(info["opset"]) if args.format == "onnx" else "torch.export program"
    say(f"wrote {args.output}: {what}, {'dynamic batch, height and width' if dynamic else 'fixed size'}"
        + (f"; output space {space.name}" if space else ""))
    for name, shape in info["inputs"].items():
        say(f"  input  {name}: {_shape(shape, dynamic)}")
    for name, shape in info["outputs"].items():
        say(f"  output {name}: {_shape(shape, dynamic)}")
    if args.no_check:
        return 0
    size = tuple(next(iter(info["inputs"].values()))[2:]) if args.size else None
    if args.format == "onnx":
        runtime = f"onnx.checker passed; ONNX Runtime {onnxruntime.__version__}"
        from onnxruntime.capi import onnxruntime_pybind11_state as state

        refused = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile", "RuntimeException")
        check = export.check_onnx
        failures = (onnx.checker.ValidationError, RuntimeError) + tuple(getattr(state, n) for n in refused if hasattr(state, n))
    else:
        runtime = f"the loaded program (PyTorch {torch.__version__})"
        check, failures = export.check_torch, (RuntimeError,)
    try:
        diffs = check(args.output, args.prototxt, args.weights, size=size)
    except failures as e:  # the checker's or the runtime's refusal: the file is not to be used
        os.remove(args.output)
        raise CommandError(f"{args.output}: the check failed, the file was removed ({type(e).__name__}: {e})") from None
    worst = max(diffs.values())
    detail = ", ".join(f"{k} {v:.2g}" for k, v in diffs.items())
    if not worst <= args.tolerance:
        os.remove(args.output)
        raise CommandError(f"{args.output}: {runtime} differs from pycolorize's forward pass by {worst:.3g} relative "
                           f"(more than --tolerance {args.tolerance:g}: {detail}); the file was removed")
    say(f"checked: {runtime} against pycolorize's forward pass, max relative difference {detail}")
    return 0
