"""The Loader's worker processes: 1, 2 and 3 workers (and threads) give the same batches, bad images
are skipped the same way, and the processes end on close(), on Ctrl-C, when a worker dies (an
error, not a hang) and when their parent is killed (no orphans)."""
import io
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import pycolorize
from pycolorize import data

# the folder that holds the pycolorize these tests imported (a pip-installed copy, or a source tree built in
# place): the child scripts put it first, ahead of the current folder that `python -c` puts there
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(pycolorize.__file__)))
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="worker processes are forked on Linux only")


@pytest.fixture
def photos(tmp_path):
    rng = np.random.RandomState(0)
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(9):
        Image.fromarray((rng.rand(70 + 7 * i, 90, 3) * 255).astype(np.uint8)).save(d / f"im{i}.jpg", quality=90)
    (d / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(d / "small.png")
    return d


def take(loader, n):
    return [next(loader) for _ in range(n)]


def same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for k in x:
            np.testing.assert_array_equal(x[k], y[k], err_msg=k)


@linux
def test_one_two_and_three_workers_give_the_same_batches(photos):
    src = data.folder_source(str(photos))
    kw = dict(batch=4, crop=64, short_side=72, samples=16, margin=4, seed=11, chroma_weight=True)
    runs = {}
    for processes in (True, False):
        for workers in (1, 2, 3):
            log = io.StringIO()
            with data.Loader(src, workers=workers, processes=processes, log=log, **kw) as loader:
                assert loader.processes == processes
                runs[processes, workers] = take(loader, 7)  # three epochs of 9 good images
            assert log.getvalue().count("skipping") == 2, log.getvalue()
    for key, batches in runs.items():
        same(batches, runs[True, 1])
    assert runs[True, 1][0]["data"].shape == (4, 1, 64, 64) and runs[True, 1][0]["chroma_weight"].shape == (64,)


@linux
def test_processes_resume_exactly_and_keep_their_shards(photos):
    src = data.folder_source(str(photos))
    kw = dict(crop=64, short_side=72, samples=8, margin=4, seed=5, log=io.StringIO())
    with data.Loader(src, batch=2, workers=3, **kw) as a:
        straight = take(a, 9)
    with data.Loader(src, batch=2, workers=2, **kw) as b:
        take(b, 4)
        state = b.state()
    with data.Loader(src, batch=2, workers=1, **kw) as c:
        c.restore(state)
        same(take(c, 5), straight[4:])
    clean = photos.parent / "clean"  # no image to skip (a skip shifts only its own rank's stream)
    clean.mkdir()
    for path in photos.glob("im*.jpg"):
        shutil.copy(path, clean)
    good = data.folder_source(str(clean))
    with data.Loader(good, batch=4, workers=2, **kw) as whole:
        glob = take(whole, 5)
    parts = []
    for rank in (0, 1):
        with data.Loader(good, batch=2, workers=2, shard=(rank, 2), **kw) as part:
            parts.append(take(part, 5))
    for k in range(5):  # rank r's batch k holds the global batch k's rows 2r, 2r + 1
        for key in glob[k]:
            np.testing.assert_array_equal(np.concatenate([parts[0][k][key], parts[1][k][key]]), glob[k][key])


def children(pid):
    """The pids of the live (not zombie) children of `pid`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def wait_gone(pids, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


@linux
def test_close_ends_every_worker_process(photos):
    src = data.folder_source(str(photos))
    loader = data.Loader(src, batch=2, crop=64, short_side=72, samples=8, margin=4, workers=3, log=io.StringIO())
    next(loader)
    pids = [p.pid for p in loader._exe.procs]
    assert len(pids) == 3 and all(alive(p) for p in pids)
    assert sorted(set(pids) & set(children(os.getpid()))) == sorted(pids)
    loader.close()
    assert wait_gone(pids, 2) == []


@linux
def test_a_dead_worker_is_an_error_not_a_hang(photos):
    src = data.folder_source(str(photos))
    with data.Loader(src, batch=2, crop=64, short_side=72, samples=8, margin=4, workers=2, prefetch=1,
                     log=io.StringIO()) as loader:
        next(loader)
        os.kill(loader._exe.procs[0].pid, signal.SIGKILL)
        deadline = time.monotonic() + 30  # noticed within a second, though the other worker goes on
        with pytest.raises(RuntimeError, match=r"a loader worker process \(pid \d+\) died \(killed by signal 9\)"):
            while time.monotonic() < deadline:
                next(loader)


# A parent that is still alive after 25 s (the tests give it 30 to end) writes where each of its
# threads is to stderr and exits, so that a hang fails with the place it hung, not a bare timeout.
SCRIPT = """
import faulthandler, io, os, signal, sys, time
faulthandler.dump_traceback_later(25, exit=True)
signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as a terminal's python has it, whatever
                                                          # disposition the test process passed down
sys.path.insert(0, {root!r})
from pycolorize import data
loader = data.Loader(data.folder_source({photos!r}), batch=2, crop=64, short_side=72, samples=8, margin=4,
                     workers=3, log=io.StringIO())
with loader:
    next(loader)
    print(" ".join(str(p.pid) for p in loader._exe.procs), flush=True)
    while True:
        next(loader)
        time.sleep(0.01)
"""


UNCLOSED = """
import io, sys
sys.path.insert(0, {root!r})
from pycolorize import data
loader = data.Loader(data.folder_source({photos!r}), batch=2, crop=64, short_side=72, samples=8, margin=4,
                     workers=2, log=io.StringIO())
next(loader)
print(" ".join(str(p.pid) for p in loader._exe.procs), flush=True)
"""


def start(photos, script=SCRIPT):
    proc = subprocess.Popen([sys.executable, "-c", script.format(root=PACKAGE_PARENT, photos=str(photos))], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    line = proc.stdout.readline()
    assert line.strip(), proc.stderr.read()
    return proc, [int(p) for p in line.split()]


@linux
def test_ctrl_c_stops_the_parent_and_its_workers_quietly(photos):
    proc, pids = start(photos)
    os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C: the whole foreground group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert err.count("Traceback") == 1, err  # the parent's; the workers ignore SIGINT and say nothing
    assert wait_gone(pids) == []


@linux
def test_workers_do_not_outlive_a_killed_parent(photos):
    proc, pids = start(photos)
    assert all(alive(p) for p in pids)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert wait_gone(pids) == [], "orphaned loader workers"


@linux
def test_an_hdf5_source_is_opened_again_in_each_worker(tmp_path):
    import h5py

    with h5py.File(tmp_path / "im.h5", "w") as f:
        f["images"] = (np.random.RandomState(1).rand(6, 70, 80, 3) * 255).astype(np.uint8)
    src = data.open_source({"type": "hdf5", "path": str(tmp_path / "im.h5")})
    kw = dict(batch=2, crop=64, short_side=70, samples=8, margin=4, seed=3, log=io.StringIO())
    with data.Loader(src, workers=2, processes=True, **kw) as a, data.Loader(src, workers=1, processes=False, **kw) as b:
        same(take(a, 5), take(b, 5))


@linux
def test_sigterm_to_the_group_leaves_it_to_the_parent_and_the_workers_follow_it(photos):
    # Slurm's SIGTERM goes to every process of the job: the workers ignore it (the trainer may need one
    # more batch before its snapshot); a parent without a handler dies of it, and they follow
    proc, pids = start(photos)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGTERM
    assert wait_gone(pids) == []


@linux
def test_a_loader_left_open_does_not_hold_up_the_interpreters_exit(photos):
    t = time.monotonic()
    proc, pids = start(photos, UNCLOSED)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert time.monotonic() - t < 25 and wait_gone(pids, 2) == []
