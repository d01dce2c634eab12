"""Shared plumbing of the atheris harnesses (tests/fuzz/fuzz_*.py).

Each harness is run as `python tests/fuzz/fuzz_NAME.py [libFuzzer flags] [CORPUS_DIR...]`. It writes
its seed inputs into build-fuzz/seeds-NAME/ (made from nothing but the repository, so a fresh clone
can fuzz) and adds that folder to the corpus directories. A "crash" is what atheris reports: an
exception the harness does not list as a clean error, a timeout (-timeout) or memory past
-rss_limit_mb. Clean errors must also carry a message naming the input file.
"""
import os
import sys
import tempfile

import atheris

# The repository (for seeds). pycolorize itself comes from the installed package or PYTHONPATH, as
# in the test suite (a fresh clone's source tree has no compiled _core).
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def scratch_path(suffix):
    """A file the harness rewrites every execution (in RAM where /dev/shm exists)."""
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    return os.path.join(folder, f"pycolorize-fuzz-{os.getpid()}{suffix}")


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def judge(error, path, clean):
    """Returns if `error` is clean (one of the `clean` types, naming `path`); raises otherwise,
    which atheris reports as a crash."""
    if isinstance(error, clean) and path in str(error):
        return
    if isinstance(error, clean):
        raise AssertionError(f"error does not name the file: {type(error).__name__}: {error}") from error
    raise error


def main(name, test_one_input, seeds):
    """Write `seeds` ({file name: bytes}) to build-fuzz/seeds-NAME/ and run libFuzzer on `test_one_input`."""
    seed_dir = os.path.join(ROOT, "build-fuzz", f"seeds-{name}")
    os.makedirs(seed_dir, exist_ok=True)
    for fname, data in seeds.items():
        write(os.path.join(seed_dir, fname), data)
    inputs = [a for a in sys.argv[1:] if not a.startswith("-")]
    # Given files, libFuzzer just runs them (a crash reproduced); otherwise the seeds join the corpus.
    extra = [] if any(os.path.isfile(a) for a in inputs) else [seed_dir]
    atheris.Setup(sys.argv + extra, test_one_input)
    atheris.Fuzz()
