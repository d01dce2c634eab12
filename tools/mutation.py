#!/usr/bin/env python3
"""Mutation testing of the Python package with mutmut (docs/mutation.md).

    python tools/mutation.py                      # every group below, then docs/mutation.md
    python tools/mutation.py colour serve         # some groups (the page keeps the others' last figures)
    python tools/mutation.py --list               # the groups, their modules and their tests
    python tools/mutation.py colour --survivors   # the diff of every mutant no test kills

mutmut makes small changes to a module's functions (an operator, a constant, a dropped argument,
a condition), one at a time, and runs the tests that reach the changed function: a change that no
test notices "survived". Each group below names the modules (and, where only part of a module is
the group's concern, its functions) and the test files that cover them, so that one group's run
fits on 2 cores. A group runs in a folder of its own, build-mutation/GROUP/ (mutmut's copy of
the package, its results and its cache: a second run re-tests only what changed); the package's
compiled core must be built in place first (docs/install.md).

A surviving mutant is either killed by a new test or listed in tools/mutation_equivalent.toml as
equivalent, with the reason (the changed line is matched, not mutmut's numbering, so the list
survives edits elsewhere in the function). The kill rate of a module is killed / (mutants -
equivalent); a time-out or a crash of the tests counts as a kill (the change was noticed).
"""
import argparse
import datetime
import filecmp
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "build-mutation")
EQUIVALENT = os.path.join(ROOT, "tools", "mutation_equivalent.toml")
PAGE = os.path.join(ROOT, "docs", "mutation.md")
RESULTS = os.path.join(ROOT, "docs", "mutation", "results.json")
TARGET = 0.90

# group: (modules as paths under pycolorize/, {module: [functions]} where a group covers part of a
# module (Class.method for a method), test files)
GROUPS = {
    "colour": (["colorization/color.py", "colorization/decode.py", "colorization/transfer.py",
                "colorization/calibration.py", "colorization/sampling.py"], {},
               ["test_color.py", "test_transfer.py", "test_sampling.py", "test_calibration.py", "test_metrics.py"]),
    "evaluation": (["evaluation/metrics.py", "evaluation/colorization.py", "evaluation/calibrate.py"],
                   {"evaluation/colorization.py": ["list_images", "is_grayscale", "score", "Evaluation.__init__",
                                                   "Evaluation._check_resume", "Evaluation._scored_rows", "Evaluation._prediction",
                                                   "Evaluation.run", "Evaluation._skip", "Evaluation._one",
                                                   "Evaluation.summary", "format_table"]},
                   ["test_metrics.py", "test_evaluation.py", "test_calibration.py"]),
    "data": (["data/images.py", "data/pixels.py", "data/sources.py", "data/samples.py", "data/loader.py"],
             {"data/loader.py": ["targets", "lightness_weight", "resize_for_network",
                                 "_channel_sum", "make_example"]},
             ["test_images.py", "test_data.py", "test_loader_speed.py"]),
    "weights": (["engine/weights.py"], {}, ["test_weights.py", "test_export.py", "test_vgg.py"]),
    "resume": (["training/loop.py"],
               {"training/loop.py": ["_truncate_log", "_positions", "_restore_data", "_Run.resume", "_Run.open_log"]},
               ["test_training.py", "test_distributed.py"]),
    "distributed": (["training/distributed.py"],
                    {"training/distributed.py": ["environment", "timeout_from_env", "device_for"]},
                    ["test_distributed.py"]),
    "serve": (["serve/app.py", "serve/session.py"],
              {"serve/session.py": ["decode_upload", "_number", "parse_color", "parse_state", "stroke_mask"]},
              ["test_serve.py"]),
    "segmentation": (["evaluation/segmentation.py"],
                     {"evaluation/segmentation.py": ["net_input", "predict", "ConfusionMatrix.__init__",
                                                     "ConfusionMatrix.counts", "ConfusionMatrix.add",
                                                     "ConfusionMatrix.metrics", "save_prediction", "read_prediction",
                                                     "format_table"]},
                     ["test_segmentation.py"]),
}

KILLED = {"killed", "timeout", "segfault"}


def module_name(path):
    return "pycolorize." + path[:-3].replace("/", ".")


def mutant_function(key):
    """'pycolorize.x.y.xǁCǁm__mutmut_3' -> ('pycolorize.x.y', 'C.m')."""
    module, _, rest = key.rpartition(".")
    name = rest.rsplit("__mutmut_", 1)[0]
    name = name[2:] if name.startswith(("xǁ", "x_")) else name
    return module, name.replace("ǁ", ".")


def mutant_patterns(files, functions):
    """mutmut's name patterns for a group's mutants (every function of a module without a list)."""
    out = []
    for path in files:
        mod = module_name(path)
        for fn in functions.get(path, ["*"]):
            if fn == "*":
                out.append(f"{mod}.*")
            else:
                cls, _, meth = fn.rpartition(".")
                out.append(f"{mod}.xǁ{cls}ǁ{meth}__mutmut_*" if cls else f"{mod}.x_{fn}__mutmut_*")
    return out


def core_file():
    """The compiled core to test with: the one built in place in pycolorize/, else the installed
    package's (a pip install of this checkout, as CI has it)."""
    here = glob.glob(os.path.join(ROOT, "pycolorize", "_core*.so")) + glob.glob(os.path.join(ROOT, "pycolorize", "_core*.pyd"))
    if here:
        return here[0]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    r = subprocess.run([sys.executable, "-c", "import pycolorize._core as c; print(c.__file__)"], capture_output=True,
                       text=True, cwd=tempfile.gettempdir(), env=env)
    if r.returncode:
        sys.exit("mutation: no compiled core: build it in place (cmake -S . -B build -DWITH_CUDA=OFF && cmake --build "
                 "build) or pip install this checkout")
    return r.stdout.strip()


def _same(a, b):
    return os.path.exists(b) and os.path.getsize(a) == os.path.getsize(b) and filecmp.cmp(a, b, shallow=False)


def sync_package(work, mutated):
    """GROUP/pycolorize: a copy of the package with the compiled core; and in mutmut's copy
    (GROUP/mutants/pycolorize), every module this group does not mutate made current (mutmut
    copies a file once and keeps it; it remakes the mutated ones itself)."""
    src, dst, mutants = os.path.join(ROOT, "pycolorize"), os.path.join(work, "pycolorize"), os.path.join(work, "mutants",
                                                                                                         "pycolorize")
    if os.path.islink(dst):
        os.unlink(dst)
    wanted = {}
    for folder, dirs, names in os.walk(src):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in names:
            if not name.startswith("_core") and not name.endswith(".pyc"):
                wanted[os.path.relpath(os.path.join(folder, name), src)] = os.path.join(folder, name)
    core = core_file()
    wanted[os.path.basename(core)] = core
    for base in (dst, mutants):
        for folder, dirs, names in os.walk(base):
            for name in names:
                rel = os.path.relpath(os.path.join(folder, name), base)
                if rel not in wanted and not (base == mutants and rel.endswith((".meta", ".spans"))):
                    os.remove(os.path.join(folder, name))
    for rel, path in wanted.items():
        target = os.path.join(dst, rel)
        if not _same(path, target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(path, target)
        copy = os.path.join(mutants, rel)
        if rel not in mutated and os.path.exists(copy) and not _same(path, copy):
            os.remove(copy)  # mutmut copies it afresh


def prepare(group):
    """build-mutation/GROUP/: the package with its core (sync_package), links to tests/, prototxt/
    and tools/, and the repository's pyproject.toml with this group's [tool.mutmut] section."""
    files, _, tests = GROUPS[group]
    work = os.path.join(WORK, group)
    os.makedirs(work, exist_ok=True)
    for name in ("tests", "prototxt", "tools"):
        link = os.path.join(work, name)
        if not os.path.islink(link):
            os.symlink(os.path.join(ROOT, name), link)
    sync_package(work, set(files))
    # mutmut learns which tests reach which function once, and later only for tests with new names:
    # when a test file of the group changed, its map is made again
    digest = hashlib.sha256(b"".join(open(os.path.join(ROOT, "tests", t), "rb").read() for t in tests)).hexdigest()
    stamp = os.path.join(work, "tests.sha256")
    if (open(stamp).read() if os.path.exists(stamp) else None) != digest:
        stats = os.path.join(work, "mutants", "mutmut-stats.json")
        if os.path.exists(stats):
            os.remove(stats)
        with open(stamp, "w") as f:
            f.write(digest)
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        text = f.read()
    section = "\n".join([
        "", "[tool.mutmut]",
        'source_paths = ["pycolorize"]',
        "only_mutate = [" + ", ".join(json.dumps("pycolorize/" + p) for p in files) + "]",
        'also_copy = ["prototxt", "tools"]',
        "pytest_add_cli_args_test_selection = [" + ", ".join(json.dumps("tests/" + t) for t in tests) + "]",
        'pytest_add_cli_args = ["-p", "no:cacheprovider"]',
        "use_git_change_detection = false",
        "timeout_multiplier = 3.0",  # a mutant that hangs (a loop that never ends) is a kill: found in
        "timeout_constant = 10.0", ""])  # minutes at most, not hours
    path = os.path.join(work, "pyproject.toml")
    old = open(path).read() if os.path.exists(path) else None
    if old != text + section:
        with open(path, "w") as f:
            f.write(text + section)
    return work


def run(group, log):
    files, functions, _ = GROUPS[group]
    work = prepare(group)
    started, at = datetime.datetime.now(), commit()  # the code and tests this run tests
    print(f"{group}: mutmut run in {os.path.relpath(work, ROOT)} (log: {os.path.relpath(log.name, ROOT)})", flush=True)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1")
    names = pending(group)

    def mutmut_run(args):
        r = subprocess.run([sys.executable, "-m", "mutmut", "run", *args], cwd=work, stdout=log,
                           stderr=subprocess.STDOUT, env=env)
        if r.returncode:
            sys.exit(f"{group}: mutmut exited with {r.returncode}; see {log.name}")
    if names is None:  # the first run: every mutant of the group
        mutmut_run(mutant_patterns(files, functions))
        tested = "all"
    else:
        # the mutants not killed before; mutmut remakes those of functions that changed since (their
        # names are known once it has run), and those are tested next
        first = names or sorted(codes_of(group))[:1]
        mutmut_run(first)
        fresh = [k for k in pending(group) if k not in set(first)]
        if fresh:
            mutmut_run(fresh)
        if not names and not fresh:
            print(f"{group}: every mutant is killed already", flush=True)
        tested = f"the {len(names) + len(fresh)} not killed before or new"
    info = {"commit": at, "date": datetime.date.today().isoformat(), "machine": f"{os.cpu_count()} cores",
            "minutes": round((datetime.datetime.now() - started).total_seconds() / 60, 1),
            "tested": tested}
    with open(os.path.join(work, "run.json"), "w") as f:
        json.dump(info, f)


def results_of(group):
    """{module path: {mutant: exit code or None}} of the group's modules, from mutmut's files (None:
    no run yet)."""
    out = {}
    for path in GROUPS[group][0]:
        meta = os.path.join(WORK, group, "mutants", "pycolorize", path + ".meta")
        if not os.path.exists(meta):
            return None
        with open(meta) as f:
            out[path] = json.load(f)["exit_code_by_key"]
    return out


def codes_of(group):
    """{mutant: exit code or None} of the group's mutants in scope (None: no run yet)."""
    results = results_of(group)
    if results is None:
        return None
    return {k: code for codes in results.values() for k, code in codes.items() if in_scope(group, k)}


def pending(group):
    """The group's mutants to (re)test: those not killed in the last run (None: the first run, all).
    A killed mutant stays killed while its function is unchanged (mutmut makes new mutants of a
    changed function, untested)."""
    from mutmut.stats import status_by_exit_code

    codes = codes_of(group)
    if codes is None:
        return None
    return [k for k, code in sorted(codes.items()) if status_by_exit_code[code] not in KILLED]


def in_scope(group, key):
    files, functions, _ = GROUPS[group]
    module, fn = mutant_function(key)
    for path in files:
        if module_name(path) == module:
            return path not in functions or fn in functions[path]
    return False


def diff_of(work, path, key):
    """The changed lines of a mutant of pycolorize/`path`: ('-old line', '+new line'), stripped (mutmut's
    own diff, read in this process from the group's folder)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    here = os.getcwd()
    os.chdir(work)
    try:
        text = get_diff_for_mutant(key, path=os.path.join("pycolorize", path))
    finally:
        os.chdir(here)
    lines = [ln for ln in text.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    return tuple(ln[0] + ln[1:].strip() for ln in lines)


def load_equivalent():
    with open(EQUIVALENT, "rb") as f:
        entries = tomllib.load(f).get("equivalent", [])
    return {(e["module"], e["function"], tuple(e["change"])): e["reason"] for e in entries}


def collect(group):
    """{module: {status: count}}, the equivalent mutants found, and the survivors (key, diff)."""
    from mutmut.stats import status_by_exit_code

    work = os.path.join(WORK, group)
    equivalent = load_equivalent()
    counts, equiv, survivors = {}, [], []
    for path, codes in results_of(group).items():
        c = counts.setdefault(module_name(path), dict.fromkeys(("mutants", "killed", "equivalent", "survived",
                                                                  "no tests", "not checked"), 0))
        for key, code in sorted(codes.items()):
            if not in_scope(group, key):
                continue
            status = status_by_exit_code[code]
            c["mutants"] += 1
            if status in KILLED:
                c["killed"] += 1
                continue
            module, fn = mutant_function(key)
            change = diff_of(work, path, key)
            reason = equivalent.get((module, fn, change))
            if reason:
                c["equivalent"] += 1
                equiv.append((module, fn, change, reason))
            else:
                c["survived" if status == "survived" else "no tests" if status == "no tests" else "not checked"] += 1
                survivors.append((key, status, change))
    return counts, equiv, survivors


def rate(c):
    n = c["mutants"] - c["equivalent"]
    return c["killed"] / n if n else 1.0


def commit():
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "pycolorize", "tests"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return head + ("+changes" if dirty else "")


def write_page(results):
    """docs/mutation.md from docs/mutation/results.json."""
    rows, equiv, alive = [], [], []
    for group in GROUPS:
        r = results.get(group)
        if not r:
            rows.append(f"| {group} | (not run) | | | | | |")
            continue
        for path in GROUPS[group][0]:  # the group's order, whatever the order in the file
            module = module_name(path)
            if module not in r["modules"]:
                continue
            c, scope = r["modules"][module], GROUPS[group][1].get(path)
            what = f"`{module}`" + (f" ({', '.join(scope)})" if scope else "")
            rows.append(f"| {group} | {what} | {c['mutants']} | {c['killed']} | {c['equivalent']} | "
                        f"{c['survived'] + c['no tests'] + c['not checked']} | {100 * rate(c):.1f} % |")
        for module, fn, change, reason in r["equivalent"]:
            equiv.append(f"- `{module}.{fn}`: `{' / '.join(change)}`: {reason}")
        for module, fn, status, change in r.get("not_killed", []):
            alive.append(f"- `{module}.{fn}` ({status}): `{' / '.join(change)}`")
    runs = "\n".join(f"- {g}: commit {results[g]['commit']}, {results[g]['date']}, {results[g]['machine']}; the last run "
                     f"tested {results[g]['tested']} in {results[g]['minutes']:.0f} min" for g in GROUPS if g in results)
    text = HEAD.format(target=int(TARGET * 100)) + "\n".join(
        ["| group | module | mutants | killed | equivalent | not killed | kill rate |",
         "|---|---|---:|---:|---:|---:|---:|", *rows]) + "\n\nThe runs behind these figures:\n\n" + runs + \
        "\n\n## The equivalent mutants\n\nChanges that no test can notice, because the behaviour stays the same " \
        "(tools/mutation_equivalent.toml):\n\n" + ("\n".join(equiv) or "(none)") + "\n" + \
        "\n## Not killed\n\nChanges that behave differently but that no test catches yet; each is worth a " \
        "test:\n\n" + ("\n".join(alive) or "(none)") + "\n" + TAIL
    with open(PAGE, "w") as f:
        f.write(text)


HEAD = """# Mutation testing

<!-- written by tools/mutation.py from docs/mutation/results.json; edit the script, not this page -->

How well do the tests catch a wrong change? [mutmut](https://mutmut.readthedocs.io) answers it for the
Python package: it makes one small change at a time in a module's functions (an operator, a
constant, a comparison, a dropped argument, a value returned) and runs the tests that reach the
changed function. The kill rate is the share of changes that some test notices, over all changes
but the *equivalent* ones (those that behave exactly as the original, listed below with why).
Each module listed here is held to at least {target} %.

Run it (2 cores: a few minutes for a small group, about an hour for all; mutmut is in the `mutation`
extra):

    pip install -e '.[test,mutation]'    # or: pip install 'mutmut>=3.8,<3.9'
    cmake -S . -B build -DWITH_CUDA=OFF && cmake --build build   # the compiled core, in place
    python tools/mutation.py                 # every group; or name some: colour data serve ...
    python tools/mutation.py data --survivors   # what no test caught, as diffs

It runs each group in build-mutation/GROUP/ and rewrites this page. A second run re-tests only the
mutants not killed before and those of functions that changed (a killed mutant counts as killed
while its function is unchanged), so a group's figures are those of its runs together, the last
of which ran at the commit named below. After a test was weakened or removed, start the group
afresh: delete build-mutation/GROUP. Run it after changing one of these
modules or its tests.

## The last run

"""

TAIL = """
## The C++ layers

mutmut reaches Python only. The custom layers' numerics are guarded by the gradient checks and the
golden comparisons with BVLC Caffe; [mutation-cpp.md](mutation-cpp.md) records hand-made mutants of
those layers and which tests kill them.
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("groups", nargs="*", help=f"groups to run (default: all): {', '.join(GROUPS)}")
    p.add_argument("--list", action="store_true", help="print the groups and exit")
    p.add_argument("--survivors", action="store_true", help="print the surviving mutants' diffs (no run)")
    p.add_argument("--report", action="store_true", help="count the last runs again (with the equivalent list as it "
                                                          "is now) and rewrite the page (no run)")
    args = p.parse_args(argv)
    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        p.error(f"unknown group {', '.join(unknown)}: the groups are {', '.join(GROUPS)}")
    groups = args.groups or list(GROUPS)
    if args.list:
        for g, (files, fns, tests) in GROUPS.items():
            print(f"{g}: {', '.join(files)}; tests: {', '.join(tests)}")
        return 0
    results = json.load(open(RESULTS)) if os.path.exists(RESULTS) else {}
    failed = []
    for group in groups:
        if not (args.survivors or args.report):
            os.makedirs(WORK, exist_ok=True)
            with open(os.path.join(WORK, f"{group}.log"), "w") as log:
                run(group, log)
        ran = os.path.join(WORK, group, "run.json")
        if not os.path.exists(ran):
            print(f"{group}: not run yet")
            continue
        counts, equiv, survivors = collect(group)
        if args.survivors:
            for key, status, change in survivors:
                print(f"{key} ({status}):\n    " + "\n    ".join(change))
            continue
        with open(ran) as f:
            results[group] = {**json.load(f), "modules": counts,
                              "equivalent": [list(e[:2]) + [list(e[2]), e[3]] for e in equiv],
                              "not_killed": [[*mutant_function(key), status, list(change)] for key, status, change in survivors]}
        for module, c in counts.items():
            ok = rate(c) >= TARGET
            failed += [] if ok else [module]
            print(f"  {module}: {c['killed']}/{c['mutants'] - c['equivalent']} killed ({100 * rate(c):.1f} %), "
                  f"{c['equivalent']} equivalent{'' if ok else '  BELOW ' + str(int(TARGET * 100)) + ' %'}")
    if not args.survivors:
        os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
        with open(RESULTS, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
        write_page(results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
