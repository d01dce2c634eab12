"""The released model fetched once (pycolorize.models.zoo, `pycolorize weights`), against a loopback
HTTP server that this test starts: a good fetch and colorizing with it, and every failure (a wrong
size, a stalled server, a dropped connection resumed with Range, HTTP 404, a wrong file, no network,
a full disk, a changed file) as one line, with no file left under the final name.

The released file is 588 MB; the registry entry "hypercolumn" is replaced here by a narrow copy of
the deploy net (models.deploy_net) and a file of its shapes (about 2.5 MB), so the same code runs:
the size the registry knows, the deploy net the layers are checked against."""
import errno
import hashlib
import http.server
import os
import re
import socket
import threading

import h5py
import numpy as np
import pytest
from PIL import Image

import pycolorize
from pycolorize import cli, models
from pycolorize.colorization.colorizer import Colorizer
from pycolorize.engine.weights import write_caffe_h5
from pycolorize.models import zoo

SMALL = {"conv": (16, 16, 32, 32, 32), "fc": 256, "h_fc1": 64}
FILE = zoo.HYPERCOLUMN.file
MAX_REQUESTS = 20      # the server answers no more than this many requests per test
STALL_S = 10.0         # a stalled answer waits at most this long (released at the test's end)


# ---- the files -----------------------------------------------------------------------------------

def released_shape_file(path, prototxt, form=2017, change=None, drop=(), seed=0):
    """A Caffe HDF5 file with the learned layers of `prototxt`'s net, random values, as the authors
    stored them: `form` 2017 stores fc6 and h_fc1 InnerProduct-shaped (out, in), 2016 as the net's
    convolutions; the fixed upsampling layers are left out. `change`: {layer: shape of blob 0} to
    store instead; `drop`: layers to leave out."""
    net = pycolorize.Net(str(prototxt), phase="test", optimize=False)
    rng = np.random.default_rng(seed)
    layers = {}
    for name, blobs in net.params.items():
        if name in drop or net.lr_mult(name, 0) == 0:
            continue
        arrays = []
        for i, b in enumerate(blobs):
            shape = tuple(b.shape)
            if form == 2017 and i == 0 and name in ("fc6", "h_fc1"):
                shape = (shape[0], int(np.prod(shape[1:])))
            if change and name in change and i == 0:
                shape = change[name]
            arrays.append((rng.standard_normal(shape) * 0.05).astype(np.float32))
        layers[name] = arrays
    write_caffe_h5(layers, str(path))
    return path.read_bytes()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("small")
    prototxt = d / "small_deploy.prototxt"
    prototxt.write_text(models.deploy_net(SMALL))
    files = {
        "good": released_shape_file(d / "good.h5", prototxt, form=2017),
        "good2016": released_shape_file(d / "good2016.h5", prototxt, form=2016, seed=1),
        "shapes": released_shape_file(d / "shapes.h5", prototxt, change={"conv3_1": (32, 8, 3, 3)}),
        "missing": released_shape_file(d / "missing.h5", prototxt, drop=("prediction_c",)),
    }
    files["not_hdf5"] = b"<html>not the weights</html>\n" * 1000
    return {"dir": d, "prototxt": str(prototxt), "files": files}


# ---- the server ----------------------------------------------------------------------------------

class Server:
    """A loopback HTTP server: `routes` maps a path to (behaviour, bytes); `requests` records
    (path, Range header) of every request. Behaviours: file (honours Range), norange (always the
    whole file, HTTP 200), drop_once (the first answer announces the whole file and closes halfway;
    later ones honour Range), stall (announces the whole file, sends half, then nothing), mute (no
    answer at all), 404."""

    def __init__(self):
        self.routes, self.requests, self.stop = {}, [], threading.Event()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection; closing it ends the body

            def log_message(self, *a):
                pass

            def do_GET(self):
                owner.requests.append((self.path, self.headers.get("Range")))
                if len(owner.requests) > MAX_REQUESTS:
                    self.send_error(503, "too many requests in one test")
                    return
                kind, data = owner.routes.get(self.path, ("404", b""))
                if kind == "404":
                    self.send_error(404, "Not Found")
                    return
                if kind == "mute":
                    owner.stop.wait(STALL_S)
                    return
                first = sum(1 for p, _ in owner.requests if p == self.path) == 1
                rng = self.headers.get("Range")
                if rng and kind in ("file", "drop_once") and not (kind == "drop_once" and first):
                    start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                    body = data[start:]
                else:
                    self.send_response(200)
                    body = data
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if kind == "stall" or (kind == "drop_once" and first):
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    if kind == "stall":
                        owner.stop.wait(STALL_S)
                    return  # the connection closes with half the body sent
                self.wfile.write(body)

        class Quiet(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that hung up early (as the tests' do) is no error here

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path, monkeypatch, small, server):
    """An empty cache folder ($PYCOLORIZE_HOME), no mirror, no proxy for the loopback server, and
    the registry's "hypercolumn" replaced by the small model at the server's /released.h5."""
    home = tmp_path / "cache"
    monkeypatch.setenv(zoo.HOME_ENV, str(home))
    monkeypatch.delenv(zoo.URL_ENV, raising=False)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    use(monkeypatch, server, small, "file", "good")
    return home


def use(monkeypatch, server, small, kind, name, size=None):
    """Serve file `name` at /released.h5 with behaviour `kind`, and make it the registry's address
    of "hypercolumn" with the size `size` (default: the good file's)."""
    data = small["files"][name] if isinstance(name, str) else name
    server.routes["/released.h5"] = (kind, data)
    entry = zoo.Model(name="hypercolumn", file=FILE, url=server.url("/released.h5"),
                      size=len(small["files"]["good"]) if size is None else size, prototxt=small["prototxt"],
                      description="a narrow copy of the deploy net, for the tests")
    monkeypatch.setitem(zoo.MODELS, "hypercolumn", entry)
    return entry


def run(capsys, *argv):
    """`pycolorize ARGV` in this process: (status, stdout, stderr)."""
    capsys.readouterr()
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def one_line(err, pattern):
    """stderr is one line, `pycolorize weights: ...` (or the given command's), matching `pattern`."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert re.fullmatch(pattern, lines[0]), lines[0]
    return lines[0]


def nothing_installed(home, part=False):
    """No file under the final name (nor its .sha256, nor a temporary); a .part only if `part`."""
    names = sorted(os.listdir(home)) if home.exists() else []
    assert FILE not in names and FILE + ".sha256" not in names, names
    assert not [n for n in names if n.startswith(".tmp-")], names
    assert (FILE + ".part" in names) == part, names


def kept_part(part, good):
    """The size of the .part a broken transfer kept: a beginning of the file, most of the half that
    the server sent (what was read before the break; a read under way is lost)."""
    data = part.read_bytes()
    assert data == good[:len(data)] and len(good) // 2 - zoo.CHUNK <= len(data) <= len(good) // 2
    return len(data)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ---- a good fetch --------------------------------------------------------------------------------

def test_registry_holds_the_released_model():
    m = zoo.MODELS["hypercolumn"]
    assert zoo.DEFAULT == "hypercolumn" and m.file == "autocolorize.caffemodel.h5"
    assert m.url == "http://people.cs.uchicago.edu/~larsson/colorization/res/autocolorize.caffemodel.h5"
    assert m.size == 588_203_256 and m.prototxt == models.DEPLOY
    assert zoo.prototxt() == models.prototxt_path(models.DEPLOY) and os.path.isfile(zoo.prototxt())
    from pycolorize.cli import weights as cli_weights
    assert cli_weights.DEFAULT_MODEL == zoo.DEFAULT and cli_weights.TIMEOUT == zoo.TIMEOUT


def test_the_released_deploy_net_accepts_both_forms_of_the_released_shapes(tmp_path):
    # the real deploy net's layers against files of its released shapes: only the shapes matter
    # to the check, so the datasets are written with HDF5's fill value (zeros, nothing stored)
    net = pycolorize.Net(zoo.prototxt(), phase="test", optimize=False)
    for form in (2016, 2017):
        path = tmp_path / f"{form}.h5"
        with h5py.File(path, "w") as f:
            data = f.create_group("data")
            for name, blobs in net.params.items():
                if name.endswith("_reshaped"):  # the fixed upsampling: the file may leave it out
                    continue
                g = data.create_group(name)
                for i, b in enumerate(blobs):
                    shape = tuple(b.shape)
                    if form == 2017 and i == 0 and name in ("fc6", "h_fc1"):
                        shape = (shape[0], int(np.prod(shape[1:])))
                    g.create_dataset(str(i), shape=shape, dtype=np.float32)
        zoo.check_layers("hypercolumn", str(path))
    with h5py.File(path, "a") as f:
        del f["data/prediction_h/0"]
        f["data/prediction_h"].create_dataset("0", shape=(31, 1024, 1, 1), dtype=np.float32)
    with pytest.raises(zoo.FetchError, match=r"layer 'prediction_h' blob 0: shape \(31, 1024, 1, 1\) in the file "
                                             r"but \(32, 1024, 1, 1\) in the net"):
        zoo.check_layers("hypercolumn", str(path))


def test_good_fetch_then_colorize_with_no_other_argument(cache, server, small, capsys, tmp_path, monkeypatch):
    good = small["files"]["good"]
    with pytest.raises(zoo.NotFetchedError, match="pycolorize weights fetch"):
        Colorizer.pretrained()
    status, out, err = run(capsys, "weights", "fetch")
    assert status == 0, err
    final = cache / FILE
    assert final.read_bytes() == good
    assert (cache / (FILE + ".sha256")).read_text() == f"{sha256(good)}  {FILE}\n"
    assert sorted(os.listdir(cache)) == [FILE, FILE + ".sha256"]
    assert f"fetching hypercolumn from {server.url('/released.h5')}" in err
    assert out.strip() == f"hypercolumn: {final} ({len(good):,} bytes; size, layers and shapes checked; sha256 recorded)"
    assert server.requests == [("/released.h5", None)]

    # fetched once: a second fetch asks nothing
    status, out, _ = run(capsys, "weights", "fetch")
    assert status == 0 and "already in the cache" in out and len(server.requests) == 1
    status, out, _ = run(capsys, "weights", "path")
    assert status == 0 and out == f"{final}\n"
    status, out, err = run(capsys, "weights", "verify")
    assert status == 0, err
    assert out.startswith(f"{final}: ok ({len(good):,} bytes, the released size; sha256 {sha256(good)[:16]}... as recorded")
    status, out, _ = run(capsys, "weights", "list")
    assert status == 0 and f"cached  {final} ({len(good):,} bytes, sha256 {sha256(good)[:16]}...)" in out
    assert f"cache: {cache} (${zoo.HOME_ENV})" in out

    # colorize PHOTO -o OUT, from a folder that is not the source tree
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((60, 80, 3)) * 255).astype(np.uint8)).save("photo.jpg")
    with pytest.warns(UserWarning, match="reshaped on load"):  # the 2017 form's fc6
        status, out, err = run(capsys, "colorize", "photo.jpg", "-o", "out.png")
    assert status == 0, err
    assert Image.open(work / "out.png").size == (80, 60)
    with pytest.warns(UserWarning, match="reshaped on load"):
        c = Colorizer.pretrained(size=64)
    assert c.net.source == small["prototxt"]
    assert len(server.requests) == 1  # colorizing never downloads


def test_a_mirror_from_the_environment_is_checked_against_its_content_length(cache, server, small, capsys, monkeypatch):
    # the registry's size is the authors' file's; a mirror's is what the mirror announces
    use(monkeypatch, server, small, "file", "good", size=12345)
    server.routes["/mirror/w.h5"] = ("file", small["files"]["good2016"])
    monkeypatch.setenv(zoo.URL_ENV, server.url("/mirror/w.h5"))
    status, out, err = run(capsys, "weights", "fetch", "--quiet")
    assert status == 0 and err == "", err
    assert (cache / FILE).read_bytes() == small["files"]["good2016"]
    assert [p for p, _ in server.requests] == ["/mirror/w.h5"]


# ---- failures: one line each, nothing under the final name ---------------------------------------

def test_a_file_of_the_wrong_size_at_the_released_address(cache, server, small, capsys, monkeypatch):
    good = small["files"]["good"]
    use(monkeypatch, server, small, "file", good[:len(good) // 3])
    status, out, err = run(capsys, "weights", "fetch", "--quiet")
    assert status == 1 and out == ""
    one_line(err, rf"pycolorize weights: {re.escape(server.url('/released.h5'))}: the server has {len(good) // 3:,} "
                  rf"bytes, the released {re.escape(FILE)} {len(good):,}: a wrong or damaged file; nothing was installed")
    nothing_installed(cache)


def test_a_truncated_file_from_a_mirror(cache, server, small, capsys):
    # the mirror's Content-Length is honest about the truncated file: the HDF5 check finds it
    good = small["files"]["good"]
    server.routes["/cut.h5"] = ("file", good[:len(good) // 2])
    url = server.url("/cut.h5")
    status, out, err = run(capsys, "weights", "fetch", "--quiet", "--url", url)
    assert status == 1
    one_line(err, rf"pycolorize weights: {re.escape(url)}: not a readable HDF5 weights file \(OSError: .*truncated file.*\); "
                  r"not the weights of 'hypercolumn' \(small_deploy.prototxt\); nothing was installed")
    nothing_installed(cache)


def test_a_stalled_server(cache, server, small, capsys, monkeypatch):
    good = small["files"]["good"]
    use(monkeypatch, server, small, "stall", "good")
    status, out, err = run(capsys, "weights", "fetch", "--quiet", "--timeout", "0.5")
    assert status == 1
    part = cache / (FILE + ".part")
    kept = kept_part(part, good)
    one_line(err, rf"pycolorize weights: 127.0.0.1 sent nothing for 0.5 s \(a stalled server\); "
                  rf"{kept:,} of {len(good):,} bytes are kept in {re.escape(str(part))}: "
                  r"run the same command again to resume")
    nothing_installed(cache, part=True)
    # a server that never answers
    use(monkeypatch, server, small, "mute", "good")
    status, out, err = run(capsys, "weights", "fetch", "--quiet", "--timeout", "0.5")
    assert status == 1
    one_line(err, r"pycolorize weights: 127.0.0.1 did not answer within 0.5 s \(a stalled server\); try again later, "
                  r"or fetch from a mirror with --url URL")
    nothing_installed(cache, part=True)


def test_a_dropped_connection_is_resumed_with_range(cache, server, small, capsys, monkeypatch):
    good = small["files"]["good"]
    use(monkeypatch, server, small, "drop_once", "good")
    status, out, err = run(capsys, "weights", "fetch", "--quiet")
    assert status == 1
    part = cache / (FILE + ".part")
    kept = kept_part(part, good)
    one_line(err, rf"pycolorize weights: the connection to 127.0.0.1 dropped \(.+\); {kept:,} of "
                  rf"{len(good):,} bytes are kept in {re.escape(str(part))}: run the same command again to resume")
    nothing_installed(cache, part=True)
    status, out, err = run(capsys, "weights", "list")
    assert f"an unfinished download of {kept:,} bytes" in out
    # the same command resumes: a Range request, the rest appended, the whole checked
    status, out, err = run(capsys, "weights", "fetch")
    assert status == 0, err
    assert server.requests == [("/released.h5", None), ("/released.h5", f"bytes={kept}-")]
    assert f"resuming {FILE}.part at {kept:,} bytes" in err
    assert (cache / FILE).read_bytes() == good
    assert sorted(os.listdir(cache)) == [FILE, FILE + ".sha256"]
    status, out, err = run(capsys, "weights", "verify")
    assert status == 0 and "as recorded" in out, err


def test_a_server_that_does_not_resume_sends_it_all_again(cache, server, small, capsys, monkeypatch):
    good = small["files"]["good"]
    use(monkeypatch, server, small, "norange", "good")
    cache.mkdir()
    (cache / (FILE + ".part")).write_bytes(b"\0" * 1000)  # not even the file's beginning
    status, out, err = run(capsys, "weights", "fetch")
    assert status == 0, err
    assert server.requests == [("/released.h5", "bytes=1000-")]
    assert "does not resume downloads (HTTP 200 to a Range request): starting again" in err
    assert (cache / FILE).read_bytes() == good and not (cache / (FILE + ".part")).exists()


def test_a_complete_part_is_checked_without_downloading_it_again(cache, server, small, capsys):
    # a download that ended just before its checks (the process was killed): the registry's size
    # says it is complete (no request); a mirror's answer 416 to its Range says so
    good = small["files"]["good"]
    cache.mkdir()
    (cache / (FILE + ".part")).write_bytes(good)
    status, out, err = run(capsys, "weights", "fetch", "--quiet")
    assert status == 0 and server.requests == [], err
    assert (cache / FILE).read_bytes() == good and not (cache / (FILE + ".part")).exists()
    os.remove(cache / FILE)
    (cache / (FILE + ".part")).write_bytes(good)
    server.routes["/mirror.h5"] = ("file", good)
    status, out, err = run(capsys, "weights", "fetch", "--quiet", "--url", server.url("/mirror.h5"))
    assert status == 0, err
    assert server.requests == [("/mirror.h5", f"bytes={len(good)}-")]
    assert (cache / FILE).read_bytes() == good and sorted(os.listdir(cache)) == [FILE, FILE + ".sha256"]


def test_ctrl_c_while_installing_keeps_the_checked_part(cache, server, small, capsys, monkeypatch):
    # the checks passed and the .part is being flushed to disk when the user presses Ctrl-C: the
    # download is not lost (the next fetch installs it without a request), nothing is half-installed
    good = small["files"]["good"]
    cache.mkdir()
    (cache / (FILE + ".part")).write_bytes(good)
    real_fsync = os.fsync

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    assert cli.main(["weights", "fetch", "--quiet"]) == 130  # Ctrl-C's status
    monkeypatch.setattr(os, "fsync", real_fsync)
    nothing_installed(cache, part=True)
    assert (cache / (FILE + ".part")).read_bytes() == good
    status, out, err = run(capsys, "weights", "fetch", "--quiet")
    assert status == 0 and server.requests == [], err
    assert (cache / FILE).read_bytes() == good
    assert (cache / (FILE + ".sha256")).read_text().split()[0] == sha256(good)


def test_http_404(cache, server, small, capsys, monkeypatch):
    use(monkeypatch, server, small, "404", "good")
    status, out, err = run(capsys, "weights", "fetch", "--quiet")
    assert status == 1
    one_line(err, rf"pycolorize weights: HTTP 404 Not Found from {re.escape(server.url('/released.h5'))}: no file there "
                  r"\(a wrong --url, or the file moved\); nothing was installed")
    nothing_installed(cache)


@pytest.mark.parametrize("name, says", [
    ("not_hdf5", r"not a readable HDF5 weights file \(OSError: .*\)"),
    ("shapes", r"layer 'conv3_1' blob 0: shape \(32, 8, 3, 3\) in the file but \(32, 16, 3, 3\) in the net"),
    ("missing", r"no layer 'prediction_c', which the deploy net of 'hypercolumn' \(small_deploy.prototxt\) learns "
                r"\(shapes \(32, 64, 1, 1\), \(32,\)\)"),
])
def test_a_wrong_file(cache, server, small, capsys, name, says):
    server.routes["/wrong.h5"] = ("file", small["files"][name])
    url = server.url("/wrong.h5")
    status, out, err = run(capsys, "weights", "fetch", "--quiet", "--url", url)
    assert status == 1
    one_line(err, rf"pycolorize weights: {re.escape(url)}: {says}; not the weights of 'hypercolumn' "
                  r"\(small_deploy.prototxt\); nothing was installed")
    nothing_installed(cache)


def test_offline_names_the_command_for_a_machine_online_and_from_file(cache, capsys, monkeypatch):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    url = f"http://127.0.0.1:{closed}/autocolorize.caffemodel.h5"
    offline = (r"pycolorize weights: cannot reach {host} \({why}\): this machine looks offline\. On a machine that is "
               r"online, run `pycolorize weights fetch` \(or download {url}\), bring the file here and install it "
               r"with `pycolorize weights fetch --from FILE`")
    status, out, err = run(capsys, "weights", "fetch", "--quiet", "--url", url)
    assert status == 1
    one_line(err, offline.format(host="127.0.0.1", why=r"\[Errno 111\] Connection refused", url=re.escape(url)))
    nothing_installed(cache)
    # the mirror of the environment, on a host that does not resolve
    url = "http://weights.pycolorize.invalid/autocolorize.caffemodel.h5"
    monkeypatch.setenv(zoo.URL_ENV, url)

    def no_dns(*a, **kw):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    status, out, err = run(capsys, "weights", "fetch", "--quiet")
    assert status == 1
    one_line(err, offline.format(host=r"weights\.pycolorize\.invalid", why=r"cannot resolve .*", url=re.escape(url)))
    nothing_installed(cache)


def test_a_full_disk(cache, server, small, capsys, monkeypatch):
    class Full:
        """A .part file on a disk that fills after 100,000 bytes."""

        def __init__(self, path, mode):
            self.f, self.n = open(path, mode), 0

        def write(self, data):
            if self.n + len(data) > 100_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.n += len(data)
            return self.f.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(zoo, "_open_part", Full)
    monkeypatch.setattr(zoo, "CHUNK", 65536)
    status, out, err = run(capsys, "weights", "fetch", "--quiet")
    assert status == 1
    part = cache / (FILE + ".part")
    one_line(err, rf"pycolorize weights: the disk is full: cannot write {re.escape(str(part))} \(No space left on "
                  r"device\); 65,536 bytes are kept in it\. Free some space \(or set PYCOLORIZE_HOME to another "
                  r"folder\) and run the same command again")
    nothing_installed(cache, part=True)


def test_too_little_space_is_said_before_downloading(cache, server, small, capsys, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10 ** 9, 10 ** 9 - 1000, 1000))
    status, out, err = run(capsys, "weights", "fetch", "--quiet")
    assert status == 1
    one_line(err, rf"pycolorize weights: not enough space in {re.escape(str(cache))}: "
                  rf"{len(small['files']['good']):,} bytes needed, 1,000 bytes free; free some, or set PYCOLORIZE_HOME "
                  r"to another folder, and run the same command again")
    nothing_installed(cache)


# ---- a copy brought by hand, verify, path, colorize without the model ----------------------------

def test_from_file(cache, server, small, capsys, tmp_path):
    # the 2016 form, and a layer that the net lacks (ignored, as Caffe does): another size than the released
    copy = tmp_path / "copy of the weights.h5"
    copy.write_bytes(small["files"]["good2016"])
    with h5py.File(copy, "a") as f:
        f["data"].create_group("extra").create_dataset("0", data=np.ones(7, np.float32))
    data = copy.read_bytes()
    assert len(data) != len(small["files"]["good"])
    status, out, err = run(capsys, "weights", "fetch", "--from", str(copy))
    assert status == 0, err
    assert (cache / FILE).read_bytes() == data
    assert (cache / (FILE + ".sha256")).read_text() == f"{sha256(data)}  {FILE}\n"
    assert server.requests == []
    status, out, err = run(capsys, "weights", "verify")
    assert status == 0 and "not the released size" in out, err

    # named as the released file: its size is checked too; a wrong file is refused; the cached one stays
    named = tmp_path / FILE
    named.write_bytes(small["files"]["good"][:-10])
    status, out, err = run(capsys, "weights", "fetch", "--quiet", "--from", str(named))
    assert status == 1
    one_line(err, rf"pycolorize weights: {re.escape(str(named))}: {len(small['files']['good']) - 10:,} bytes where "
                  rf"the released {re.escape(FILE)} has {len(small['files']['good']):,}: truncated or not the model "
                  r"'hypercolumn'; nothing was installed")
    wrong = tmp_path / "wrong.h5"
    wrong.write_bytes(small["files"]["shapes"])
    status, out, err = run(capsys, "weights", "fetch", "--quiet", "--from", str(wrong))
    assert status == 1
    one_line(err, rf"pycolorize weights: {re.escape(str(wrong))}: layer 'conv3_1' blob 0: .*; nothing was installed")
    assert (cache / FILE).read_bytes() == data
    status, out, err = run(capsys, "weights", "fetch", "--quiet", "--from", str(tmp_path / "absent.h5"))
    assert status == 1
    one_line(err, rf"pycolorize weights: --from {re.escape(str(tmp_path / 'absent.h5'))}: no such file")
    # into an empty cache, a wrong copy leaves nothing
    for name in os.listdir(cache):
        os.remove(cache / name)
    status, out, err = run(capsys, "weights", "fetch", "--quiet", "--from", str(wrong))
    assert status == 1
    nothing_installed(cache)


def test_verify_finds_a_changed_file_and_force_fetches_it_again(cache, server, small, capsys):
    assert run(capsys, "weights", "fetch", "--quiet")[0] == 0
    final = cache / FILE
    data = bytearray(final.read_bytes())
    data[-100] ^= 0xFF  # inside the last dataset: still a readable HDF5 file of the right shapes
    final.write_bytes(bytes(data))
    zoo.check_layers("hypercolumn", str(final))
    status, out, err = run(capsys, "weights", "verify")
    assert status == 1 and out == ""
    one_line(err, rf"pycolorize weights: {re.escape(str(final))} has changed since it was checked \(sha256 "
                  rf"{sha256(bytes(data))[:16]}\.\.\. now, {sha256(small['files']['good'])[:16]}\.\.\. recorded\): "
                  r"fetch it again with `pycolorize weights fetch --force`")
    status, out, err = run(capsys, "weights", "fetch", "--quiet", "--force")
    assert status == 0, err
    assert final.read_bytes() == small["files"]["good"]
    assert run(capsys, "weights", "verify")[0] == 0
    # a file put there by hand, without a record: checked, and its digest recorded now
    os.remove(cache / (FILE + ".sha256"))
    status, out, err = run(capsys, "weights", "verify")
    assert status == 0 and "recorded now" in out, err
    assert (cache / (FILE + ".sha256")).read_text() == f"{sha256(small['files']['good'])}  {FILE}\n"


def test_path_exits_1_when_absent(cache, small, capsys):
    status, out, err = run(capsys, "weights", "path")
    assert status == 1 and out == ""
    one_line(err, rf"pycolorize weights: model 'hypercolumn' is not in the cache \(no {re.escape(str(cache / FILE))}\): "
                  rf"fetch it once with `pycolorize weights fetch` \({len(small['files']['good']) / 1e6:.0f} MB\)")
    status, out, err = run(capsys, "weights", "path", "nosuchmodel")
    assert status == 1
    one_line(err, r"pycolorize weights: no model named 'nosuchmodel'; known: hypercolumn")


def test_colorize_with_an_empty_cache_names_the_fetch_command(cache, server, small, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save("photo.jpg")
    status, out, err = run(capsys, "colorize", "photo.jpg", "-o", "out.png")
    assert status == 1 and out == ""
    one_line(err, r"pycolorize colorize: no --weights given, and the released model 'hypercolumn' is not in the cache "
                  rf"\(no {re.escape(str(cache / FILE))}\): fetch it once with `pycolorize weights fetch` "
                  rf"\({len(small['files']['good']) / 1e6:.0f} MB\), or "
                  r"give --weights FILE")
    assert not (tmp_path / "out.png").exists() and server.requests == []  # never a download from colorize
    nothing_installed(cache)
    status, out, err = run(capsys, "evaluate", "--folder", str(tmp_path), "-o", str(tmp_path / "results"))
    assert status == 1
    one_line(err, r"pycolorize evaluate: no --weights given, and the released model 'hypercolumn' is not in the cache .*: "
                  r"fetch it once with `pycolorize weights fetch` .*, or give --weights FILE")


def test_the_installed_command_fetches_a_released_size_model_and_colorizes_with_nothing_else(server, tmp_path):
    # The promise as a user meets it: the `pycolorize` command (the console script where pip put one,
    # else python -m with the package this test imports), run from a folder outside any source tree,
    # with the real registry and the deploy net shipped with the package. A mirror serves a file of
    # the released model's shapes (random values, 588 MB); `weights fetch --url` checks it against
    # the server's Content-Length and the deploy net's layers, then `colorize PHOTO -o OUT` needs
    # nothing else.
    import shutil
    import subprocess
    import sys

    from pycolorize.util.spawn import python_command

    script = shutil.which("pycolorize", path=os.path.dirname(sys.executable))
    command = [script] if script else python_command("pycolorize")
    deploy = models.prototxt_path("colorize_deploy.prototxt")
    served = released_shape_file(tmp_path / "released.h5", deploy, form=2017)
    (tmp_path / "released.h5").unlink()
    server.routes["/autocolorize.caffemodel.h5"] = ("file", served)
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    env = dict(os.environ, **{zoo.HOME_ENV: str(home), "NO_PROXY": "127.0.0.1,localhost"})
    for var in (zoo.URL_ENV, "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(var, None)

    def pycolorize_cmd(*argv):
        return subprocess.run(command + list(argv), cwd=work, env=env, capture_output=True, text=True, timeout=600)

    r = pycolorize_cmd("colorize", "photo.jpg", "-o", "out.png")
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "pycolorize weights fetch" in r.stderr, r.stderr
    r = pycolorize_cmd("weights", "fetch", "--url", server.url("/autocolorize.caffemodel.h5"))
    assert r.returncode == 0, r.stderr
    final = home / FILE
    assert final.stat().st_size == len(served) and sorted(os.listdir(home)) == [FILE, FILE + ".sha256"]
    # the released model's size but for HDF5's own bookkeeping: every layer of it, as large
    assert abs(len(served) - zoo.HYPERCOLUMN.size) < 64 * 1024, len(served)
    del served
    Image.fromarray((np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)).save(work / "photo.jpg")
    r = pycolorize_cmd("colorize", "photo.jpg", "-o", "out.png")
    assert r.returncode == 0, r.stderr
    assert Image.open(work / "out.png").size == (80, 60)
    assert [p for p, _ in server.requests] == ["/autocolorize.caffemodel.h5"]  # colorizing never downloads
