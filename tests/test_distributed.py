"""Data-parallel training over MPI (pycolorize.training.distributed, csrc/parallel/): 2 ranks on half the
batch each against 1 process on the whole batch (same losses and weights to float32 summation
order), with iter_size 2 too; snapshots with every rank's position and an exact resume on 2 ranks;
a rank that hangs or dies stops the other in bounded time; SIGTERM to one rank stops both with one
snapshot; the same equivalence between two network namespaces over TCP; the NCCL bootstrap's TCP
rendezvous; Dropout's mask keyed by the global sample; the Loader's shards.

The MPI tests need mpi4py and an mpiexec (pip install '.[mpi]', which the test extra brings)."""
import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import h5py
import numpy as np
import pytest
from PIL import Image

import pycolorize
from pycolorize.util.spawn import python_command
from pycolorize import _core, data, models
from pycolorize.training import distributed

MINI = {"conv": (3, 3, 4, 4, 4), "fc": 4, "h_fc1": 5}
# float32 sums in another order (2 partial sums of the batch, then across ranks): after 5 SGD
# steps the weights agree far closer than 1e-4, which leaves room; a wrong split (another sample,
# another Dropout mask, a gradient not averaged) fails it.
RTOL, ATOL = 1e-4, 1e-6

try:
    import mpi4py  # noqa: F401
    MPIEXEC = distributed.mpiexec()
except (ImportError, pycolorize.Error):
    MPIEXEC = None
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="mpi4py or mpiexec missing (pip install '.[mpi]')")


def env():
    """The ranks' environment: this pycolorize first on the path (the sanitized build's, under
    tools/sanitize_tests.sh), one OpenMP thread each, no launcher's variables."""
    here = os.path.dirname(os.path.dirname(pycolorize.__file__))
    e = dict(os.environ, PYTHONPATH=here + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    for k in list(e):  # a test run under a launcher must not look like a rank
        if k.startswith(("OMPI_", "PMI_", "PMIX_", "SLURM_")) or k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
            del e[k]
    return e


@pytest.fixture
def setup(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.RandomState(0)
    for i in range(10):
        Image.fromarray((rng.rand(72, 80, 3) * 255).astype(np.uint8)).save(photos / f"{i}.png")
    (tmp_path / "net.prototxt").write_text(models.train_net("hue_chroma", MINI, batch=4, crop=64, samples=8,
                                                            trunk_filler='type: "msra"'))
    (tmp_path / "data.yaml").write_text(f"source: {{type: folder, path: {photos}}}\nshort_side: 72\nmargin: 4\n"
                                        f"workers: 2\n")
    return tmp_path


def write_solver(t, name, iter_size=1, max_iter=5, snapshot=0):
    text = models.solver_text(str(t / "net.prototxt"), base_lr=0.05, max_iter=max_iter, steps=(3,),
                              prefix=str(t / name / "mini"), snapshot=snapshot, random_seed=5)
    text += f"iter_size: {iter_size}\n"
    (t / f"{name}.prototxt").write_text(text)
    return str(t / f"{name}.prototxt")


def train_cmd(t, solver, *extra):
    return python_command("pycolorize") + ["train", "--solver", solver, "--data", str(t / "data.yaml"), "--quiet", *extra]


def mpi_cmd(n):
    return distributed.mpiexec_command(n)


def run(cmd, timeout=120, **kw):
    p = subprocess.run(cmd, env=kw.pop("env", env()), capture_output=True, text=True, timeout=timeout, **kw)
    return p


def weights(path):
    with h5py.File(path, "r") as f:
        out = {}
        f["data"].visititems(lambda k, v: out.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset) else None)
        return out


def losses(path):
    return [float(r["loss"]) for r in csv.DictReader(open(path))]


def assert_same_training(t, one, two, iters=5):
    w1, w2 = weights(t / one / f"mini_iter_{iters}.caffemodel.h5"), weights(t / two / f"mini_iter_{iters}.caffemodel.h5")
    assert w1.keys() == w2.keys() and w1
    moved = 0
    for k in w1:
        np.testing.assert_allclose(w2[k], w1[k], rtol=RTOL, atol=ATOL, err_msg=k)
        moved += not np.array_equal(w1[k], w2[k])
    np.testing.assert_allclose(losses(t / two / "mini_log.csv"), losses(t / one / "mini_log.csv"), rtol=RTOL)
    assert len(losses(t / one / "mini_log.csv")) == iters
    return moved


# ---- 2 ranks over MPI against 1 process ------------------------------------------------------

@needs_mpi
@pytest.mark.parametrize("iter_size", [1, 2])
def test_two_ranks_on_half_batches_train_as_one_process_on_the_whole(setup, iter_size):
    t = setup
    one, two = write_solver(t, "one", iter_size), write_solver(t, "two", iter_size)
    p1 = run(train_cmd(t, one))
    assert p1.returncode == 0, p1.stderr
    # launched by mpiexec, and by the train command itself (--nproc 2 runs the same mpiexec)
    p2 = run(mpi_cmd(2) + train_cmd(t, two) if iter_size == 1 else train_cmd(t, two, "--nproc", "2"))
    assert p2.returncode == 0, p2.stdout + p2.stderr
    assert_same_training(t, "one", "two")
    # rank 0 alone wrote the snapshot, with both ranks' data positions
    with h5py.File(t / "two" / "mini_iter_5.solverstate.h5", "r") as f:
        extra = json.loads(f["pycolorize_extra"][()])
    assert extra["world_size"] == 2 and len(extra["ranks"]) == 2 and extra["data"] == extra["ranks"][0]
    assert sorted(os.listdir(t / "two")) == ["mini_iter_5.caffemodel.h5", "mini_iter_5.solverstate.h5", "mini_log.csv"]


@needs_mpi
def test_two_rank_snapshot_resumes_exactly_on_two_and_continues_on_one(setup):
    t = setup
    straight = write_solver(t, "straight", max_iter=6, snapshot=3)
    p = run(mpi_cmd(2) + train_cmd(t, straight))
    assert p.returncode == 0, p.stdout + p.stderr
    os.makedirs(t / "again")
    for name in ("mini_iter_3.caffemodel.h5", "mini_iter_3.solverstate.h5"):
        shutil.copy(t / "straight" / name, t / "again" / name)
    again = write_solver(t, "again", max_iter=6, snapshot=3)
    p = run(mpi_cmd(2) + train_cmd(t, again, "--resume", "auto"))
    assert p.returncode == 0, p.stdout + p.stderr
    w, r = weights(t / "straight" / "mini_iter_6.caffemodel.h5"), weights(t / "again" / "mini_iter_6.caffemodel.h5")
    for k in w:  # the same world size: each rank's stream and the same sums, bit for bit
        np.testing.assert_array_equal(r[k], w[k], err_msg=k)
    # one process from the 2-rank snapshot: continues, with a warning that the stream may differ
    p = run(train_cmd(t, again, "--resume", str(t / "straight" / "mini_iter_3.solverstate.h5"), "--max-iter", "4"))
    assert p.returncode == 0 and "written by 2 ranks, resumed on 1" in p.stderr, p.stderr


# ---- faults ----------------------------------------------------------------------------------

def _wait_for(path, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


def _rank_pids(t, proc, timeout=60):
    """The ranks' PIDs, written by a sitecustomize the test puts on their path."""
    deadline = time.monotonic() + timeout
    while len([f for f in os.listdir(t) if f.startswith("pid_")]) < 2:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the ranks never started"
        time.sleep(0.1)
    return {int(f[4:]): int((t / f).read_text()) for f in os.listdir(t) if f.startswith("pid_")}


def _fault_env(t, timeout):
    """Ranks that write their PID (pid_<rank>) as they start, with `timeout` seconds to wait for
    each other."""
    site = t / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import os\n"
        "r = os.environ.get('OMPI_COMM_WORLD_RANK', os.environ.get('PMI_RANK'))\n"
        f"if r is not None:\n    open(os.path.join({str(t)!r}, 'pid_' + r), 'w').write(str(os.getpid()))\n")
    e = env()
    e["PYTHONPATH"] = str(site) + os.pathsep + e["PYTHONPATH"]
    e["PYCOLORIZE_DIST_TIMEOUT"] = str(timeout)
    return e


@contextlib.contextmanager
def _training_on_two_ranks(t, name, timeout):
    """A 2-rank job that would train for ever, past its first iteration: (the mpiexec process, the
    ranks' PIDs), with `timeout` seconds for a rank's waits; whatever is left of it is killed after."""
    solver = write_solver(t, name, max_iter=100000)
    proc = subprocess.Popen(mpi_cmd(2) + train_cmd(t, solver), env=_fault_env(t, timeout), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    pids = {}
    try:
        pids = _rank_pids(t, proc)
        _wait_for(t / name / "mini_log.csv", proc)  # training has started
        time.sleep(1)
        yield proc, pids
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in pids.values():  # a stopped (SIGSTOP) rank outlives mpiexec
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@needs_mpi
@pytest.mark.parametrize("fault", ["hang", "die"])
def test_a_rank_that_hangs_or_dies_stops_the_other_in_bounded_time(setup, fault):
    with _training_on_two_ranks(setup, "fault", 3) as (proc, pids):
        os.kill(pids[1], signal.SIGSTOP if fault == "hang" else signal.SIGKILL)
        start = time.monotonic()
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - start
    assert proc.returncode != 0
    assert took < 30
    if fault == "hang":  # rank 0's own error: what it waited for, then MPI_Abort
        assert "rank 0 of 2: waited 3 s for" in err and "stopping every rank" in err, err
    else:  # mpiexec notices and ends the job
        assert "rank 1" in err.lower() or "signal 9" in err.lower() or "killed" in err.lower(), err


@needs_mpi
def test_sigterm_to_one_rank_stops_both_with_one_snapshot(setup):
    t = setup
    with _training_on_two_ranks(t, "term", 30) as (proc, pids):
        os.kill(pids[1], signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, out + err
    states = [f for f in os.listdir(t / "term") if f.endswith(".solverstate.h5")]
    assert len(states) == 1, states
    with h5py.File(t / "term" / states[0], "r") as f:
        assert json.loads(f["pycolorize_extra"][()])["world_size"] == 2


# ---- two machines: network namespaces over TCP ---------------------------------------------

NS = ("pyc_dist_a", "pyc_dist_b")
ADDR = ("10.231.0.1", "10.231.0.2")


def _netns():
    """Two namespaces joined by a veth pair, or the reason they cannot be made."""
    if not shutil.which("ip"):
        return "iproute2's ip is missing"
    if os.geteuid() != 0:
        return "network namespaces need root"
    subprocess.run(["ip", "netns", "del", NS[0]], capture_output=True)
    subprocess.run(["ip", "netns", "del", NS[1]], capture_output=True)
    steps = [["ip", "netns", "add", NS[0]], ["ip", "netns", "add", NS[1]],
             ["ip", "link", "add", "pycveth0", "netns", NS[0], "type", "veth", "peer", "name", "pycveth1", "netns", NS[1]]]
    for ns, dev, addr in ((NS[0], "pycveth0", ADDR[0]), (NS[1], "pycveth1", ADDR[1])):
        steps += [["ip", "-n", ns, "addr", "add", addr + "/24", "dev", dev], ["ip", "-n", ns, "link", "set", dev, "up"],
                  ["ip", "-n", ns, "link", "set", "lo", "up"]]
    for s in steps:
        p = subprocess.run(s, capture_output=True, text=True)
        if p.returncode:
            return f"cannot make network namespaces here ({' '.join(s)}: {p.stderr.strip()})"
    return None


@pytest.fixture
def netns():
    why = _netns()
    if why:
        pytest.skip(why)
    yield NS
    for ns in NS:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@needs_mpi
def test_two_ranks_in_two_network_namespaces_over_tcp(setup, netns):
    """Each rank in its own namespace (its own network stack, as on two machines), joined by a veth
    pair: mpiexec starts rank 1 through a stand-in for ssh that enters the other namespace, and the
    ranks talk over TCP between 10.231.0.1 and 10.231.0.2."""
    t = setup
    one, two = write_solver(t, "one"), write_solver(t, "two")
    p1 = run(train_cmd(t, one))
    assert p1.returncode == 0, p1.stderr
    agent = t / "ns_agent"  # called as `agent [options] HOST COMMAND...`, like ssh
    agent.write_text("#!/bin/sh\nwhile [ \"${1#-}\" != \"$1\" ]; do shift; done\nhost=$1; shift\n"
                     f"case $host in {ADDR[0]}) ns={NS[0]};; *) ns={NS[1]};; esac\n"
                     "exec ip netns exec $ns sh -c \"$*\"\n")
    agent.chmod(0o755)
    e = env()
    # TCP between the namespaces only; no hierarchical collectives (coll/han), which take the two
    # "machines" for one: they share a host name here
    e.update(PRTE_MCA_plm_ssh_agent=str(agent), PRTE_MCA_oob_tcp_if_include="10.231.0.0/24", OMPI_MCA_pml="ob1",
             OMPI_MCA_btl="self,tcp", OMPI_MCA_btl_tcp_if_include="10.231.0.0/24", OMPI_MCA_coll="^han")
    cmd = [MPIEXEC, "-n", "2", "--host", f"{ADDR[0]}:1,{ADDR[1]}:1", "--allow-run-as-root", "--bind-to", "none",
           "--prefix", os.path.dirname(os.path.dirname(MPIEXEC))] + train_cmd(t, two)
    p2 = run(["ip", "netns", "exec", NS[0]] + cmd, env=e, timeout=120)
    assert p2.returncode == 0, p2.stdout + p2.stderr
    assert_same_training(t, "one", "two")


# ---- pieces ----------------------------------------------------------------------------------

def test_tcp_rendezvous_hands_rank_0s_bytes_to_every_rank():
    port = distributed.free_port()
    got = {}

    def rank(r):
        got[r] = distributed.tcp_share(b"secret-id" if r == 0 else b"", r, 3, "127.0.0.1", port, timeout=20)
    threads = [threading.Thread(target=rank, args=(r,)) for r in (1, 2, 0)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert got == {0: b"secret-id", 1: b"secret-id", 2: b"secret-id"}
    with pytest.raises(pycolorize.Error, match="could not reach rank 0"):
        distributed.tcp_share(b"", 1, 2, "127.0.0.1", distributed.free_port(), timeout=0.5)
    with pytest.raises(pycolorize.Error, match=r"ranks \[1\] did not connect"):
        distributed.tcp_share(b"x", 0, 2, "127.0.0.1", distributed.free_port(), timeout=0.5)


def test_environment_reads_each_launchers_variables():
    assert distributed.environment({}) is None
    assert distributed.environment({"RANK": "0", "WORLD_SIZE": "1"}) is None
    e = distributed.environment({"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "4",
                                 "OMPI_COMM_WORLD_LOCAL_RANK": "1", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"})
    assert (e.rank, e.world, e.local_rank, e.mpi) == (1, 4, 1, True)
    e = distributed.environment({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "3", "SLURM_PROCID": "0",
                                 "SLURM_NTASKS": "1"})
    assert (e.rank, e.world, e.local_rank, e.mpi) == (3, 8, 3, False)
    e = distributed.environment({"SLURM_PROCID": "5", "SLURM_NTASKS": "16", "SLURM_LOCALID": "1"})
    assert (e.rank, e.world, e.local_rank) == (5, 16, 1)
    with pytest.raises(pycolorize.Error, match="RANK=4 is not a rank of WORLD_SIZE=4"):
        distributed.environment({"RANK": "4", "WORLD_SIZE": "4"})


def test_environment_takes_the_rank_for_a_missing_local_rank_and_rejects_bad_values():
    # no local-rank variable: the global rank stands in (one machine's ranks)
    for rank_var, size_var in (("RANK", "WORLD_SIZE"), ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
                               ("PMI_RANK", "PMI_SIZE"), ("SLURM_PROCID", "SLURM_NTASKS")):
        e = distributed.environment({rank_var: "2", size_var: "3"})
        assert (e.rank, e.world, e.local_rank) == (2, 3, 2), rank_var
    e = distributed.environment({"PMI_RANK": "1", "PMI_SIZE": "2", "MPI_LOCALRANKID": "0"})
    assert (e.rank, e.world, e.local_rank, e.mpi) == (1, 2, 0, True) and "MPICH" in e.launcher
    e = distributed.environment({"RANK": "0", "WORLD_SIZE": "2"})
    assert (e.rank, e.world, e.local_rank, e.mpi) == (0, 2, 0, False) and "torchrun" in e.launcher
    assert distributed.environment({"RANK": "1"}) is None  # a rank without a size is no launcher
    with pytest.raises(pycolorize.Error, match=r"RANK='a', WORLD_SIZE='2' are not integers"):
        distributed.environment({"RANK": "a", "WORLD_SIZE": "2"})
    with pytest.raises(pycolorize.Error, match=r"not integers"):
        distributed.environment({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "x"})
    with pytest.raises(pycolorize.Error, match="RANK=-1 is not a rank of WORLD_SIZE=2"):
        distributed.environment({"RANK": "-1", "WORLD_SIZE": "2"})
    with pytest.raises(pycolorize.Error, match="RANK=0 is not a rank of WORLD_SIZE=0"):
        distributed.environment({"RANK": "0", "WORLD_SIZE": "0"})


def test_each_rank_takes_the_gpu_of_its_local_rank():
    env = distributed.Environment
    assert distributed.device_for(None, None) is None
    assert distributed.device_for(None, [3]) == 3  # one ID: this process's own, with or without ranks
    assert distributed.device_for(env(5, 8, 1, "x", True), [6]) == 6
    # several IDs: the local rank indexes them; without a local-rank variable, the global rank does
    ids = [4, 5, 6, 7]
    for rank in range(4):
        assert distributed.device_for(distributed.environment({"RANK": str(rank), "WORLD_SIZE": "4"}), ids) == 4 + rank
    assert distributed.device_for(env(6, 8, 2, "x", False), ids) == 6  # the second machine's third rank
    with pytest.raises(pycolorize.Error, match=r"--gpu 4,5,6,7: no GPU for local rank 4"):
        distributed.device_for(distributed.environment({"RANK": "4", "WORLD_SIZE": "8"}), ids)
    with pytest.raises(pycolorize.Error, match=r"no GPU for local rank -1"):
        distributed.device_for(env(0, 2, -1, "x", False), ids)
    with pytest.raises(pycolorize.Error, match=r"--gpu 0,1: several GPUs take several ranks \(--nproc 2\)"):
        distributed.device_for(None, [0, 1])


def test_the_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("PYCOLORIZE_DIST_TIMEOUT", raising=False)
    assert distributed.timeout_from_env() == distributed.DEFAULT_TIMEOUT == 300.0
    monkeypatch.setenv("PYCOLORIZE_DIST_TIMEOUT", "")
    assert distributed.timeout_from_env() == 300.0
    monkeypatch.setenv("PYCOLORIZE_DIST_TIMEOUT", "12.5")
    assert distributed.timeout_from_env() == 12.5
    monkeypatch.setenv("PYCOLORIZE_DIST_TIMEOUT", "soon")
    with pytest.raises(pycolorize.Error, match="PYCOLORIZE_DIST_TIMEOUT='soon': not a number of seconds"):
        distributed.timeout_from_env()


def test_dropout_mask_is_keyed_by_the_global_sample():
    """Rank r of N on its n rows draws the mask one process draws on rows r*n .. (r+1)*n - 1 of the
    whole batch (the same seed on every rank), for any n (not only multiples of 4)."""
    layer = 'layer { name: "d" type: "Dropout" bottom: "x" top: "y" dropout_param { dropout_ratio: 0.5 } }'

    def masks(rows, rank, world):
        text = f'input: "x" input_shape {{ dim: {rows} dim: 3 }}\n{layer}\n'
        net = pycolorize.Net.from_string(text, phase="train")
        _core.set_shard(rank, world)
        try:
            pycolorize.set_random_seed(11)
            return net.forward(x=np.ones((rows, 3), np.float32))["y"].copy()
        finally:
            _core.set_shard(0, 1)
    whole = masks(6, 0, 1)
    halves = [masks(3, r, 2) for r in range(2)]
    thirds = [masks(2, r, 3) for r in range(3)]
    np.testing.assert_array_equal(np.concatenate(halves), whole)
    np.testing.assert_array_equal(np.concatenate(thirds), whole)
    assert 0 < (whole == 0).sum() < whole.size


def test_loader_shards_deal_the_global_batches_out_in_blocks(tmp_path):
    for i in range(7):
        Image.fromarray(np.full((40, 40, 3), i * 30, np.uint8)).save(tmp_path / f"{i}.png")
    source = data.open_source({"type": "folder", "path": str(tmp_path)})
    args = dict(crop=32, samples=2, margin=2, short_side=40, workers=1, seed=3)

    def batches(batch, shard, n):
        with data.Loader(source, batch=batch, shard=shard, **args) as loader:
            return [next(loader) for _ in range(n)]
    whole = batches(4, (0, 1), 5)  # crosses two epoch ends (7 images)
    parts = [batches(2, (r, 2), 5) for r in range(2)]
    for k in range(5):
        for key in whole[k]:
            np.testing.assert_array_equal(np.concatenate([parts[0][k][key], parts[1][k][key]]), whole[k][key],
                                          err_msg=f"batch {k} {key}")


def test_batch_that_does_not_divide_among_the_ranks_is_one_clear_error(setup):
    from pycolorize.training.loop import split_batch

    net = pycolorize.Net(str(setup / "net.prototxt"), phase="train")
    with pytest.raises(pycolorize.Error, match=r"net.prototxt: Input blob 'data' \(4, 1, 64, 64\).*4 does not divide "
                                               r"among 3 ranks"):
        split_batch(net, 3, str(setup / "net.prototxt"))
    split_batch(net, 2, "net")
    assert net.blobs["data"].shape == (2, 1, 64, 64) and net.blobs["hist_h"].shape[0] == 16


SHARED = """
input: "x" input_shape { dim: 4 dim: 3 }
input: "t" input_shape { dim: 4 dim: 3 }
layer { name: "a" type: "InnerProduct" bottom: "x" top: "a" param { name: "w" } param { lr_mult: 2 }
        inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.5 } } }
layer { name: "r" type: "ReLU" bottom: "a" top: "a" }
layer { name: "frozen" type: "InnerProduct" bottom: "a" top: "f" param { lr_mult: 0 } param { lr_mult: 0 }
        inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.5 } } }
layer { name: "b" type: "InnerProduct" bottom: "f" top: "b" param { name: "w" } param { lr_mult: 1 }
        inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.5 } } }
layer { name: "d" type: "Dropout" bottom: "b" top: "b" dropout_param { dropout_ratio: 0.3 } }
layer { name: "loss" type: "EuclideanLoss" bottom: "b" bottom: "t" top: "loss" }
"""


class RecordingSync(_core.GradientSync):
    """A world of one that records the solver's calls."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def world_size(self):
        return 1

    def reduce(self, params):
        self.calls.append(("reduce", list(params)))

    def wait(self, p):
        self.calls.append(("wait", p))

    def finish(self):
        self.calls.append(("finish",))


def write_shared(tmp_path, iter_size):
    (tmp_path / "net.prototxt").write_text(SHARED)
    (tmp_path / "solver.prototxt").write_text(
        f'net: "{tmp_path / "net.prototxt"}"\nbase_lr: 0.1\nmomentum: 0.9\nweight_decay: 0.01\nlr_policy: "fixed"\n'
        f'iter_size: {iter_size}\nrandom_seed: 3\nclip_gradients: 10\n')
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32))
            for _ in range(3 * iter_size)]


def trained(tmp_path, feeds, attach=None):
    """3 iterations of the SHARED net; `attach(solver)` installs a GradientSync."""
    solver = pycolorize.Solver(str(tmp_path / "solver.prototxt"))
    if attach is not None:
        attach(solver)
    it = iter(feeds)

    def feed():
        x, t = next(it)
        solver.net.blobs["x"].data[...] = x
        solver.net.blobs["t"].data[...] = t
    losses = [solver.step(1, before_forward=feed) for _ in range(3)]
    return losses, {(k, i): p.data.copy() for k, ps in solver.net.params.items() for i, p in enumerate(ps)}, solver


@pytest.mark.parametrize("iter_size", [1, 3])
def test_solver_hands_each_learnable_gradient_over_once_after_its_lowest_layer(tmp_path, iter_size):
    """The hooks' order (top layer's sums first, a shared weight after the lowest layer using it,
    frozen parameters never, each update after its own wait) and, with a world of one, the same
    training bit for bit as without them (the hooks change only when things happen)."""
    feeds = write_shared(tmp_path, iter_size)
    plain_losses, plain, _ = trained(tmp_path, feeds)
    sync = RecordingSync()
    losses, params, solver = trained(tmp_path, feeds, lambda s: s.set_gradient_sync(sync))
    assert losses == plain_losses
    for k in plain:
        np.testing.assert_array_equal(params[k], plain[k], err_msg=str(k))
    # params: a/0 (w, owner) 0, a/1 1, frozen 2 3, b/0 (w, shared) 4, b/1 5; layers x a r frozen b d loss
    names = solver.net.layer_names
    after = {names[l]: ps for l, ps in enumerate(solver.reduce_after_layer) if ps}
    assert after == {"b": [5], "a": [0, 1]}
    # one iteration: the sums top layer first, clip_gradients' waits for all (net order), then each
    # update's own wait, top first (4, the shared copy, is its owner 0's), then finish
    one_iteration = [("reduce", [5]), ("reduce", [0, 1])] + [("wait", p) for p in (0, 1, 2, 3, 5)] \
        + [("wait", p) for p in (5, 3, 2, 1, 0)] + [("finish",)]
    assert sync.calls == one_iteration * 3


@pytest.mark.gpu
@pytest.mark.skipif(not getattr(_core, "nccl_compiled", False) or pycolorize.gpu_count() == 0,
                    reason="needs the CUDA build with NCCL (nccl_compiled) and a GPU")
def test_nccl_with_one_rank_trains_as_one_process(tmp_path, monkeypatch):
    """The NCCL backend end to end on one GPU (a world of one, bootstrapped through the TCP
    rendezvous): weights broadcast, layer-wise sums on the second stream, the update waiting on
    their events; the same training as the plain GPU run."""
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(distributed.free_port()))
    pycolorize.use_gpu(0)
    feeds = write_shared(tmp_path, 2)
    plain_losses, plain, _ = trained(tmp_path, feeds)
    ctx = distributed.NCCLContext(distributed.Environment(0, 1, 0, "test", False), timeout=60)

    def attach(solver):
        ctx.attach(solver)
        ctx.broadcast_params(solver.net)
        assert ctx.allreduce(np.array([2.5], np.float64))[0] == 2.5
        assert ctx.broadcast_bytes(b"abc") == b"abc"
    losses, params, _ = trained(tmp_path, feeds, attach)
    np.testing.assert_allclose(losses, plain_losses, rtol=1e-6)
    for k in plain:
        np.testing.assert_allclose(params[k], plain[k], rtol=1e-6, atol=1e-7, err_msg=str(k))


@pytest.mark.skipif(pycolorize.gpu_count() > 0, reason="checks the failure path on a machine without GPUs")
def test_nproc_with_gpus_stops_every_rank_when_one_fails(setup):
    """--nproc 2 --gpu 0,1 starts one rank per GPU (torchrun-style variables); here none can take
    its GPU, and the job ends with the ranks' one-line error and status 1, not a hang."""
    t = setup
    start = time.monotonic()
    p = run(train_cmd(t, write_solver(t, "gpus"), "--nproc", "2", "--gpu", "0,1"), timeout=60)
    assert p.returncode == 1 and "--gpu 0:" in p.stderr and "no GPU for local rank" not in p.stderr, p.stderr
    assert time.monotonic() - start < 30


def test_environment_reads_this_process_by_default(monkeypatch):
    for var in [v for launcher in distributed.LAUNCHERS for v in launcher[1:4]]:
        monkeypatch.delenv(var, raising=False)
    assert distributed.environment() is None
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    e = distributed.environment()
    assert (e.rank, e.world, e.local_rank) == (1, 2, 1)
