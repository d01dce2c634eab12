#!/usr/bin/env python3
"""Hand mutants of the custom C++ layers (docs/mutation-cpp.md).

    python tools/mutation_cpp.py                    # every mutant, then docs/mutation/cpp-log.txt
    python tools/mutation_cpp.py --only kld_grad_sign --keep
    python tools/mutation_cpp.py --list             # the mutants, their files and their tests

mutmut (tools/mutation.py) covers the Python package; it cannot change C++. This script does the
same by hand for the layers the paper adds to Caffe and the passes that rewrite the deploy net: the
sparse hypercolumn gather (forward) and its scatter (backward), the softmax + KL-divergence loss,
the Projection layer, the ResampleAdd layer and the hypercolumn projection pass that writes them
(csrc/graph/net_optimize.cpp). Each mutant in MUTANTS below is one plausible bug: an exact snippet
of a file under csrc/, the snippet that replaces it, what bug it models and the tests that should
notice it.

What a run does:

  1. makes a separate git worktree of this checkout's HEAD (default /tmp/cppmut, reused when it is
     there; its tracked files are reset to HEAD), so the checkout itself is never touched. The
     worktree holds the commit, not uncommitted edits of the checkout;
  2. builds the CPU-only core there in place, once (cmake -S . -B build -GNinja -DWITH_CUDA=OFF;
     cmake --build build -j1: the module lands in the worktree's pycolorize/), and checks that
     Python run from the worktree imports the worktree's package;
  3. checks that every mutant's snippet occurs exactly once in its file (else it stops, naming the
     stale mutants, before building anything), and that the unmutated build passes all the tests
     the mutants name (a kill means something only if they pass without it);
  4. for each mutant: applies it, rebuilds incrementally, runs `python -m pytest -q -x` on its tests
     from the worktree, records killed (a test failed, errored, crashed or timed out), survived
     (they all passed) or build-error, and restores the file. A survivor is then run against the
     four fast test files of the C++ core (WIDE) to see whether any other test notices it;
  5. rebuilds the original and runs the tests again (the sanity run; the run fails if they fail);
  6. prints a table and writes a plain-text log: each mutant's file, description, tests, outcome and
     the test that failed first, and the commit of HEAD;
  7. removes the worktree (git worktree remove --force; git worktree prune) unless --keep.

The log goes to docs/mutation/cpp-log.txt for a full run; with --only it goes to
/tmp/cppmut-log.txt (so that a partial run does not overwrite the recorded one) unless --log says
where. Exit status: 0 when every mutant ran to killed or survived and the sanity run passed; 1
otherwise (a stale snippet, a build error, a failing baseline or sanity run). A survivor does not
fail the run: it is a finding, to be read in the log and explained in docs/mutation-cpp.md.

Needs what the plain CMake build needs (docs/install.md: pybind11, scipy-openblas32, cmake, ninja,
numpy, h5py, pytest). A build from scratch takes a few minutes on 2 cores, each mutant's
incremental rebuild (one or two translation units and the link) well under a minute, its tests a
few seconds; the whole run about a quarter of an hour. (A mutant's build also recompiles the file
the mutant before it restored, so the log's object counts are one or two higher than its own.)
"""
import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_WORKTREE = "/tmp/cppmut"
DEFAULT_LOG = os.path.join(ROOT, "docs", "mutation", "cpp-log.txt")
PARTIAL_LOG = "/tmp/cppmut-log.txt"
CONFIGURE = ["cmake", "-S", ".", "-B", "build", "-GNinja", "-DWITH_CUDA=OFF"]
BUILD_TIMEOUT = 3600
TEST_TIMEOUT = 900
# the fast test files of the C++ core, run against a survivor to see whether anything notices it
WIDE = ["tests/test_custom_layers.py", "tests/test_golden.py", "tests/test_layers.py", "tests/test_graph_pass.py"]


@dataclass
class Mutant:
    name: str
    file: str          # under csrc/
    original: str      # must occur exactly once in the file
    mutated: str
    bug: str           # the bug it models, one line
    tests: List[str]   # pytest arguments: node ids, files, -k expressions


SPARSE = ["tests/test_custom_layers.py", "-k", "sparse"]
KLD = ["tests/test_custom_layers.py", "-k", "kld"]
DEPLOY = "tests/test_golden.py::test_deploy_small_matches_caffe_blob_by_blob"
PROJECTION = ["tests/test_layers.py::test_projection", "tests/test_graph_pass.py", DEPLOY]
RESAMPLE = ["tests/test_layers.py::test_resample_add", "tests/test_graph_pass.py", DEPLOY]
PASS = ["tests/test_graph_pass.py", DEPLOY]

MUTANTS = [
    # ---- SparseHypercolumnExtractor: the gather (forward) -------------------------------------
    Mutant("hc_swap_xy", "layers/sparse_hypercolumn_layer.cpp",
           "const HypercolumnTaps t = hypercolumn_taps(cent[2 * r], cent[2 * r + 1], oh, ow, s, H, W);\n"
           "      const float* Fn",
           "const HypercolumnTaps t = hypercolumn_taps(cent[2 * r + 1], cent[2 * r], oh, ow, s, H, W);\n"
           "      const float* Fn",
           "the forward gather reads the centroids as (x, y) instead of (y, x)", SPARSE),
    Mutant("hc_clamp_margin", "layers/sparse_hypercolumn_layer.h",
           "ly = fminf(fmaxf(ly, 0.f), static_cast<float>(H - 1.0001));",
           "ly = fminf(fmaxf(ly, 0.f), static_cast<float>(H - 1));",
           "rows clamp to H - 1 instead of the released H - 1.0001 (bilinear weights 1/0 instead of "
           "0.9999/0.0001 at the far edge)", SPARSE),
    Mutant("hc_no_tap_cap", "layers/sparse_hypercolumn_layer.h",
           "  if (y0 > H - 2) y0 = H - 2;\n", "",
           "the row tap is not capped at H - 2: above 2048 rows the second tap reads (and the scatter "
           "writes) one row past the map", SPARSE),
    # ---- SparseHypercolumnExtractor: the scatter (backward) ------------------------------------
    Mutant("hc_scatter_overwrite", "layers/sparse_hypercolumn_layer.cpp",
           "q[0] += v * t.wy0 * t.wx0;", "q[0] = v * t.wy0 * t.wx0;",
           "the scatter overwrites the top-left tap's gradient instead of accumulating (samples that "
           "share a pixel lose all but the last)", SPARSE),
    Mutant("hc_scatter_transposed", "layers/sparse_hypercolumn_layer.cpp",
           "q[W] += v * t.wy1 * t.wx0;\n          q[1] += v * t.wy0 * t.wx1;",
           "q[W] += v * t.wy0 * t.wx1;\n          q[1] += v * t.wy1 * t.wx0;",
           "the scatter swaps the x and y weights of the two off-diagonal taps (backward only; the "
           "forward is right)", SPARSE),
    Mutant("hc_scatter_no_zero", "layers/sparse_hypercolumn_layer.cpp",
           "    std::memset(dF, 0, sizeof(float) * f.count());\n", "",
           "the backward pass does not zero the feature diffs before scattering: it adds to what a "
           "previous backward pass left there", SPARSE),
    # ---- SoftmaxKLDLoss -------------------------------------------------------------------------
    Mutant("kld_grad_sign", "layers/softmax_kld_loss_layer.cpp",
           "* (p[j] - q[j]) * scale;", "* (q[j] - p[j]) * scale;",
           "the gradient's sign is flipped: q - p instead of p - q", KLD),
    Mutant("kld_log_unclamped", "layers/softmax_kld_loss_layer.cpp",
           "t -= std::log(std::max(q[j], FLT_MIN));", "t -= std::log(q[j]);",
           "the target's log is not clamped at FLT_MIN: a zero in the target gives 0 * -inf = NaN", KLD),
    Mutant("kld_valid_is_batch", "layers/softmax_kld_loss_layer.cpp",
           "bottom.size() == 3 ? mask_sum : static_cast<double>(outer_ * inner_);",
           "bottom.size() == 3 ? mask_sum : static_cast<double>(outer_);",
           "VALID normalisation without a mask divides by the batch (outer) instead of the number of "
           "positions (outer * inner)", KLD),
    # ---- Projection ----------------------------------------------------------------------------
    Mutant("proj_weight_stride", "layers/projection_layer.h",
           "1.f, w + column_[i], w_ld_, be.data(*bottom[i])",
           "1.f, w + column_[i], C, be.data(*bottom[i])",
           "the forward GEMM reads the weight slice with row stride C_i (the bottom's width) instead "
           "of W's full row width", PROJECTION),
    Mutant("proj_dw_column", "layers/projection_layer.h",
           "be.mutable_diff(*blobs_[0]) + column_[i], w_ld_);",
           "be.mutable_diff(*blobs_[0]), w_ld_);",
           "the weight gradient of every bottom lands in the first columns of W instead of its own", PROJECTION),
    # ---- ResampleAdd -----------------------------------------------------------------------------
    Mutant("resample_overwrite", "layers/resample_add_layer.cpp",
           "top[0]->mutable_cpu_data(), accumulate(bottom));",
           "top[0]->mutable_cpu_data(), false);",
           "with two bottoms the resampled map is written over y instead of added to it", RESAMPLE),
    # ---- the hypercolumn projection pass ---------------------------------------------------------
    Mutant("pass_no_partition", "graph/net_optimize.cpp",
           "  std::stable_partition(groups.begin(), groups.end(), [](const Group& gr) { return gr.key.empty(); });\n",
           "",
           "the pass keeps the concat's group order instead of putting the group that is not resampled "
           "(which writes the top, with the bias) first", PASS),
]


def log(msg=""):
    print(msg, flush=True)


def run(cmd, cwd, timeout, env=None):
    """(returncode, combined output, seconds); returncode None on a time-out."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=timeout)
        return p.returncode, p.stdout, time.monotonic() - t0
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return None, out, time.monotonic() - t0


def git(*args, cwd=ROOT):
    return subprocess.run(["git", "-C", cwd, *args], check=True, stdout=subprocess.PIPE, text=True).stdout.strip()


def worktree_is_ours(wt):
    if not os.path.isdir(wt):
        return False
    listed = git("worktree", "list", "--porcelain")
    return any(line == f"worktree {os.path.realpath(wt)}" for line in listed.splitlines())


def setup_worktree(wt, commit):
    if worktree_is_ours(wt):
        log(f"reusing the worktree {wt}, reset to {commit[:12]}")
        git("checkout", "--quiet", "--force", "--detach", commit, cwd=wt)
    else:
        if os.path.exists(wt):
            sys.exit(f"{wt} exists but is not a worktree of {ROOT}; remove it or pass --worktree")
        log(f"adding the worktree {wt} at {commit[:12]}")
        git("worktree", "add", "--quiet", "--detach", wt, commit)


def remove_worktree(wt):
    subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", wt], check=False)
    subprocess.run(["git", "-C", ROOT, "worktree", "prune"], check=False)


def build(wt, jobs):
    """(ok, output, seconds, number of objects compiled)."""
    out_all, secs = "", 0.0
    if not os.path.exists(os.path.join(wt, "build", "build.ninja")):
        rc, out, s = run(CONFIGURE, wt, BUILD_TIMEOUT)
        out_all, secs = out, s
        if rc != 0:
            return False, out_all, secs, 0
    rc, out, s = run(["cmake", "--build", "build", f"-j{jobs}"], wt, BUILD_TIMEOUT)
    compiled = len(re.findall(r"Building CXX object", out))
    return rc == 0, out_all + out, secs + s, compiled


def test_env(wt):
    env = dict(os.environ)
    env["PYTHONPATH"] = wt  # the worktree's package first, whatever else the caller's path holds
    env.pop("PYTEST_ADDOPTS", None)
    return env


def pytest(wt, args):
    """(status, first failing test or '', summary line, seconds, output). status: passed, failed,
    crashed, timeout or no-tests."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-rfE", *args]
    rc, out, secs = run(cmd, wt, TEST_TIMEOUT, env=test_env(wt))
    first = ""
    m = re.search(r"^(?:FAILED|ERROR) (\S+)", out, re.M)
    if m:
        first = m.group(1)
    summary = next((l.strip("= ") for l in reversed(out.splitlines()) if re.search(r"\d+ (passed|failed|error)", l)), "")
    if rc is None:
        return "timeout", first, summary, secs, out
    if rc == 0:
        return "passed", first, summary, secs, out
    if rc == 5:
        return "no-tests", first, summary, secs, out
    if rc < 0 or not summary:  # a signal (a segfault, say) or pytest died before its summary
        return "crashed", first or f"(pytest exit status {rc})", summary, secs, out
    return "failed", first, summary, secs, out


def check_snippets(wt, mutants):
    stale = []
    for mu in mutants:
        path = os.path.join(wt, "csrc", mu.file)
        if not os.path.exists(path):
            stale.append(f"{mu.name}: csrc/{mu.file} does not exist")
            continue
        with open(path) as f:
            n = f.read().count(mu.original)
        if n != 1:
            stale.append(f"{mu.name}: its original snippet occurs {n} times in csrc/{mu.file} (needs exactly 1)")
    return stale


def union_tests(mutants):
    """The tests of all the mutants, as one pytest argument list (the -k selections kept apart)."""
    files, groups = [], []
    for mu in mutants:
        if "-k" in mu.tests:
            if mu.tests not in groups:
                groups.append(mu.tests)
        else:
            files += [t for t in mu.tests if t not in files]
    return files, groups


def run_suite(wt, mutants):
    """Runs every mutant's tests on the current build; (all passed, lines for the log)."""
    files, groups = union_tests(mutants)
    ok, lines = True, []
    for args in ([files] if files else []) + groups:
        status, first, summary, secs, out = pytest(wt, args)
        lines.append(f"  {' '.join(args)}: {status} ({summary}; {secs:.1f} s)" + (f", first failure {first}" if first else ""))
        if status != "passed":
            ok = False
            lines.append(indent(tail(out, 40)))
    return ok, lines


def tail(text, n):
    return "\n".join(text.rstrip().splitlines()[-n:])


def indent(text, pad="    "):
    return "\n".join(pad + line for line in text.splitlines())


def apply_and_test(wt, mu, jobs):
    path = os.path.join(wt, "csrc", mu.file)
    with open(path) as f:
        original_text = f.read()
    result = {"outcome": "", "first": "", "summary": "", "build_s": 0.0, "test_s": 0.0, "compiled": 0,
              "wide": "", "detail": ""}
    try:
        with open(path, "w") as f:
            f.write(original_text.replace(mu.original, mu.mutated, 1))
        ok, out, secs, compiled = build(wt, jobs)
        result.update(build_s=secs, compiled=compiled)
        if not ok:
            result.update(outcome="build-error", detail=tail(out, 30))
            return result
        if compiled == 0:
            result.update(outcome="build-error", detail="the mutated file compiled nothing: the build did not see it")
            return result
        status, first, summary, tsecs, out = pytest(wt, mu.tests)
        result.update(first=first, summary=summary, test_s=tsecs)
        if status == "passed":
            result["outcome"] = "survived"
            wstatus, wfirst, wsummary, wsecs, _ = pytest(wt, WIDE)
            result["test_s"] += wsecs
            result["wide"] = (f"killed by {wfirst} ({wstatus})" if wstatus != "passed"
                              else f"also survives the four files ({wsummary})")
        elif status == "no-tests":
            result.update(outcome="no-tests", detail=tail(out, 20))
        else:
            result["outcome"] = "killed" if status == "failed" else f"killed ({status})"
            result["detail"] = failure_reason(out)
        return result
    finally:
        with open(path, "w") as f:
            f.write(original_text)


def failure_reason(out):
    """What the first failure said: the first lines of its "E   " block (the exception and its
    message), else the short summary's message, else the output's last lines."""
    block = []
    for line in out.splitlines():
        if line.startswith("E  "):
            block.append(line[1:].strip())
        elif block:
            break
    if block:
        return "\n".join(l[:200] for l in block[:4])
    m = re.search(r"^(?:FAILED|ERROR) \S+ - (.*)$", out, re.M)
    return m.group(1)[:300] if m else tail(out, 5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", metavar="NAME", help="run this mutant only (may be repeated)")
    ap.add_argument("--keep", action="store_true", help="keep the worktree (and its build) afterwards")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--worktree", default=DEFAULT_WORKTREE, help=f"where the worktree goes (default {DEFAULT_WORKTREE})")
    ap.add_argument("--log", help=f"the log file (default {os.path.relpath(DEFAULT_LOG, ROOT)}; with --only {PARTIAL_LOG})")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="build jobs (default 1)")
    args = ap.parse_args()

    if args.list:
        for mu in MUTANTS:
            log(f"{mu.name:24} csrc/{mu.file}\n{'':24} {mu.bug}\n{'':24} tests: {' '.join(mu.tests)}")
        return 0
    mutants = MUTANTS
    if args.only:
        unknown = [n for n in args.only if n not in {mu.name for mu in MUTANTS}]
        if unknown:
            sys.exit(f"no mutant named {', '.join(unknown)}; --list shows them")
        mutants = [mu for mu in MUTANTS if mu.name in args.only]
    log_path = args.log or (PARTIAL_LOG if args.only else DEFAULT_LOG)
    wt = os.path.abspath(args.worktree)

    t_start = time.monotonic()
    started = datetime.datetime.now().astimezone()
    commit = git("rev-parse", "HEAD")
    short = git("rev-parse", "--short", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    setup_worktree(wt, commit)
    header = [
        "Hand mutants of the custom C++ layers (tools/mutation_cpp.py; docs/mutation-cpp.md)",
        f"date:      {started:%Y-%m-%d %H:%M %Z}",
        f"commit:    {commit} ({short}){'; the checkout had uncommitted edits, not part of this run' if dirty else ''}",
        f"worktree:  {wt} (detached at the commit)",
        f"build:     {' '.join(CONFIGURE)}; cmake --build build -j{args.jobs}",
        f"tests:     {sys.executable} -m pytest -q -x -p no:cacheprovider -rfE TESTS  (cwd: the worktree)",
        f"machine:   {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "",
    ]
    lines, rows, failed_run = [], [], False
    lines_sanity = ["sanity run: not reached"]
    try:
        stale = check_snippets(wt, mutants)
        if stale:
            log("stale mutants (the sources changed under them; update MUTANTS):\n  " + "\n  ".join(stale))
            return 1
        log("building the original (CPU only) in the worktree ...")
        ok, out, secs, compiled = build(wt, args.jobs)
        if not ok:
            log(tail(out, 40))
            log("the original does not build")
            return 1
        log(f"  built in {secs:.0f} s ({compiled} objects compiled)")
        rc, where, _ = run([sys.executable, "-c", "import pycolorize._core, pycolorize; print(pycolorize.__file__)"],
                           wt, 120, env=test_env(wt))
        if rc != 0 or not os.path.realpath(where.strip()).startswith(os.path.realpath(wt) + os.sep):
            log(f"Python run from the worktree imports pycolorize from {where.strip()!r}, not from {wt}")
            return 1
        log("baseline: the mutants' tests on the original ...")
        ok, base_lines = run_suite(wt, mutants)
        lines += ["baseline (the original build, before any mutant):"] + base_lines + [""]
        for l in base_lines:
            log(l)
        if not ok:
            log("the tests fail without any mutant: a kill would mean nothing")
            failed_run = True
            return 1

        for k, mu in enumerate(mutants, 1):
            log(f"[{k}/{len(mutants)}] {mu.name} (csrc/{mu.file}) ...")
            r = apply_and_test(wt, mu, args.jobs)
            rows.append((mu, r))
            log(f"  {r['outcome']}" + (f": {r['first']}" if r["first"] else "") + (f"; {r['wide']}" if r["wide"] else "")
                + f"  (build {r['build_s']:.0f} s, {r['compiled']} objects; tests {r['test_s']:.1f} s)")
            if r["outcome"] not in ("survived",) and not r["outcome"].startswith("killed"):
                failed_run = True

        log("sanity: rebuilding the original and running the tests again ...")
        ok, out, secs, compiled = build(wt, args.jobs)
        sanity_ok, sanity_lines = (run_suite(wt, mutants) if ok else (False, [indent(tail(out, 30))]))
        lines_sanity = [f"sanity run (the original rebuilt, {compiled} objects, after the mutants): "
                        + ("passed" if sanity_ok else "FAILED")] + sanity_lines
        for l in sanity_lines:
            log(l)
        if not sanity_ok:
            failed_run = True
    finally:
        elapsed = time.monotonic() - t_start
        if rows:
            write_log(log_path, header, lines, rows, lines_sanity, elapsed)
            log("")
            log(table(rows))
            log(f"\nlog: {log_path}; the whole run took {elapsed / 60:.1f} min")
        if args.keep:
            log(f"kept the worktree {wt}")
        else:
            remove_worktree(wt)
    return 1 if failed_run else 0


def table(rows):
    head = ("mutant", "file", "outcome", "first failing test")
    body = [(mu.name, mu.file, r["outcome"], r["first"] or r["wide"]) for mu, r in rows]
    widths = [max(len(x[i]) for x in [head] + body) for i in range(3)]
    out = []
    for x in [head] + body:
        out.append("  ".join(c.ljust(w) for c, w in zip(x[:3], widths)) + "  " + x[3])
    return "\n".join(out)


def write_log(path, header, lines, rows, sanity, elapsed):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    killed = sum(r["outcome"].startswith("killed") for _, r in rows)
    survived = sum(r["outcome"] == "survived" for _, r in rows)
    text = list(header) + lines
    for mu, r in rows:
        text += [
            f"mutant:      {mu.name}",
            f"file:        csrc/{mu.file}",
            f"bug:         {mu.bug}",
            f"tests:       {' '.join(mu.tests)}",
            f"outcome:     {r['outcome']}",
        ]
        if r["first"]:
            text.append(f"first fail:  {r['first']}")
        if r["detail"]:
            text.append("why:         " + r["detail"].replace("\n", "\n             "))
        if r["wide"]:
            text.append(f"wide run:    {' '.join(WIDE)}: {r['wide']}")
        if r["summary"]:
            text.append(f"pytest:      {r['summary']}")
        text.append(f"time:        build {r['build_s']:.0f} s ({r['compiled']} objects), tests {r['test_s']:.1f} s")
        text.append("change:")
        text += ["  - " + l for l in mu.original.rstrip("\n").splitlines()] or ["  - (nothing)"]
        text += ["  + " + l for l in mu.mutated.rstrip("\n").splitlines()] or ["  + (deleted)"]
        text.append("")
    text += sanity + [""]
    text += [f"summary: {len(rows)} mutants, {killed} killed, {survived} survived, "
             f"{len(rows) - killed - survived} other; the whole run took {elapsed / 60:.1f} min", "", table(rows), ""]
    with open(path, "w") as f:
        f.write("\n".join(text))


if __name__ == "__main__":
    sys.exit(main())
