"""The released models: known by name, fetched once into a cache folder, checked, and found again.

    from pycolorize.models import zoo
    zoo.fetch()                  # the released hypercolumn model: download once, check, keep
    zoo.path()                   # its file; NotFetchedError (naming `pycolorize weights fetch`) if absent
    zoo.prototxt()               # the deploy net it goes with
    zoo.verify()                 # the size, layers and shapes, and sha256 again
    zoo.list()                   # what is known and what is cached

`pycolorize weights fetch|list|path|verify` is the command line of the same functions, and
`pycolorize colorize` and `Colorizer.pretrained()` use the cached file. The authors' own package
fetched the same file into ~/.autocolorize (fact sheet 4.5).

The cache folder is ``$PYCOLORIZE_HOME``, else ``~/.cache/pycolorize``. A download is written to
``<file>.part`` only; the next fetch resumes it with an HTTP Range request (a server that answers
200 instead of 206 sends the whole file again), and nothing else reads a .part file. It gets its
final name, atomically (pycolorize.util.files), only after two checks pass:

* its size: the registry's for the model's own address, else (a mirror: ``url=`` or
  ``$PYCOLORIZE_WEIGHTS_URL``) what the server announced (Content-Length, or Content-Range's total);
* its layers: it opens as Caffe's HDF5 weights layout and every layer that the deploy net learns is
  there with the net's parameter shapes, in either published form of the released file (a 1x1 or
  7x7 convolution stored InnerProduct-shaped as (out, in): the reading and the shape rule are
  pycolorize.engine.weights', the loader's own), and every blob reads to its end.

Then ``<file>.sha256`` records the verified file's digest (sha256sum's format), which verify()
checks. ``fetch(from_file=FILE)`` installs a copy brought by hand after the same checks (the size
check when the copy bears the released file's name).

Every failure is a FetchError (a UserError, so the commands print it as it is) in one line that
says what is wrong and what to do: a wrong size, the first layer that is missing or whose shape
differs, HTTP 404 (or another HTTP error), a dropped connection or a stalled server (the .part is
kept: the same command resumes), a full disk, no network (with what to run on a machine that is
online, and ``--from FILE``). No failure leaves a file under the final name.
"""
import contextlib
import dataclasses
import errno
import hashlib
import os
import shutil
import sys
from typing import Optional
from urllib.parse import urlsplit

from pycolorize.models.nets import DEPLOY
from pycolorize.util.errors import FetchError
from pycolorize.util.files import atomic_open, atomic_path, fsync_dir


@dataclasses.dataclass(frozen=True)
class Model:
    """A released model. `size`: the byte count of the file at `url` (None: unknown, the server's
    announcement is checked instead); `prototxt`: its deploy net, a project prototxt name (resolved
    by pycolorize.models.prototxt_path, from any folder) or a path."""
    name: str
    file: str
    url: str
    size: Optional[int]
    prototxt: str
    description: str = ""


# The paper's model as the authors released it (fact sheet 4.5): VGG-16-Gray, the 12,417-channel
# hypercolumn, h_fc1 of 1024, 32 hue and 32 chroma bins; 18 layers of weights and biases in float32
# (147,041,024 values) and about 39 kB of HDF5 metadata. The file at this address stores fc6 as
# (4096, 25088) and h_fc1 as (1024, 12417) (the 2017 form); the 2016 form stored them shaped like
# the net's convolutions. Both pass the check.
HYPERCOLUMN = Model(
    name="hypercolumn",
    file="autocolorize.caffemodel.h5",
    url="http://people.cs.uchicago.edu/~larsson/colorization/res/autocolorize.caffemodel.h5",
    size=588_203_256,
    prototxt=DEPLOY,
    description="the paper's hypercolumn model, as the authors released it (ImageNet, hue/chroma, 32 bins)",
)

MODELS = {HYPERCOLUMN.name: HYPERCOLUMN}
DEFAULT = HYPERCOLUMN.name

HOME_ENV = "PYCOLORIZE_HOME"
URL_ENV = "PYCOLORIZE_WEIGHTS_URL"
DEFAULT_HOME = os.path.join("~", ".cache", "pycolorize")
TIMEOUT = 30.0        # seconds without a byte (or without an answer) before a download is given up
CHUNK = 1 << 16       # bytes per network read and write (a dropped connection loses at most the read under way)
HASH_CHUNK = 1 << 20  # bytes per read when hashing or copying a file
MIB = 1 << 20




class NotFetchedError(FetchError, FileNotFoundError):
    """The model is not in the cache (also a FileNotFoundError)."""

    def __str__(self):
        return self.args[0]


def register(model):
    """Add (or replace) a Model in the registry; returns it."""
    MODELS[model.name] = model
    return model


def model(name=DEFAULT):
    """The registry's Model `name`; a FetchError naming the known ones otherwise."""
    if name not in MODELS:
        raise FetchError(f"no model named {name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def home():
    """The cache folder: $PYCOLORIZE_HOME, else ~/.cache/pycolorize (it may not exist yet)."""
    return os.path.abspath(os.path.expanduser(os.environ.get(HOME_ENV) or DEFAULT_HOME))


def location(name=DEFAULT):
    """Where model `name` is kept in the cache, whether it is there or not."""
    return os.path.join(home(), model(name).file)


def prototxt(name=DEFAULT):
    """The path of model `name`'s deploy net."""
    m = model(name)
    if os.path.isabs(m.prototxt) or os.sep in m.prototxt or (os.altsep and os.altsep in m.prototxt):
        return m.prototxt
    from pycolorize.models.nets import prototxt_path

    return prototxt_path(m.prototxt)


def fetch_command(name=DEFAULT, tail=""):
    """The command that fetches model `name` (`pycolorize weights fetch [NAME]`), with `tail`."""
    return "pycolorize weights fetch" + ("" if name == DEFAULT else f" {name}") + (f" {tail}" if tail else "")


def path(name=DEFAULT):
    """The cached file of model `name`; a NotFetchedError naming the command that fetches it when
    it is not there. Never downloads."""
    m = model(name)
    where = location(name)
    if not os.path.isfile(where):
        size = f" ({m.size / 1e6:.0f} MB)" if m.size else ""
        raise NotFetchedError(f"model '{name}' is not in the cache (no {where}): fetch it once with "
                              f"`{fetch_command(name)}`{size}")
    return where


def _say(show, text):
    if show:
        print(text, file=sys.stderr, flush=True)


def _mb(n):
    return f"{n:,} bytes" if n < 10 * MIB else f"{n / 1e6:,.0f} MB"


# ---- fetching ------------------------------------------------------------------------------------

def fetch(name=DEFAULT, url=None, from_file=None, progress=True, timeout=None, force=False):
    """Model `name` in the cache, fetched if it is not there yet; returns its path.

    url: a mirror (default: $PYCOLORIZE_WEIGHTS_URL, else the model's own address); from_file: a
    copy brought by hand, checked and copied in (replacing any cached one); progress: a progress
    display and a line on what happens, on stderr; timeout: seconds without a byte before the
    download is given up (TIMEOUT); force: download again even if the file is cached (it is
    replaced only once the new one has passed the checks). A FetchError in one line on failure
    (see the module's docstring)."""
    m = model(name)
    final = location(name)
    if from_file is not None:
        if url is not None:
            raise FetchError("a URL and a file to install exclude each other (--url, --from)")
        return _install_copy(m, os.fspath(from_file), final, progress)
    if os.path.isfile(final) and not force:
        return final
    url = url or os.environ.get(URL_ENV) or m.url
    known = m.size if url == m.url else None  # a mirror's size is what it announces
    _makedirs(os.path.dirname(final))
    part = final + ".part"
    _say(progress, f"fetching {m.name} from {url}")
    announced = _download(m, url, part, known, TIMEOUT if timeout is None else float(timeout), progress)
    expected = known if known is not None else announced
    try:
        _check_size(m, part, url, expected, known is not None)
        _check_layers(m, part, url)
    except FetchError:
        _remove(part)  # complete but wrong: the next fetch starts again
        raise
    _publish(part, final, _sha256(part))
    return final


def _makedirs(folder):
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise FetchError(f"cannot create the cache folder {folder} ({e.strerror or e}); "
                         f"set {HOME_ENV} to a folder that can be written") from None


def _remove(p):
    with contextlib.suppress(OSError):
        os.remove(p)


def _host(url):
    parts = urlsplit(url)
    return parts.hostname or url


def _reason(e):
    """A short reason from a requests/urllib3 exception chain (its innermost message)."""
    seen, depth = e, 0
    while depth < 10:
        inner = getattr(seen, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in seen.args if isinstance(a, BaseException)), None)
        if inner is None or inner is seen:
            break
        seen, depth = inner, depth + 1
    text = next((a for a in seen.args if isinstance(a, str)), None) or str(seen)
    if type(seen).__name__ == "IncompleteRead" or "IncompleteRead" in text:
        return "the server closed it before the end"
    for marker in ("Failed to establish a new connection: ", "Failed to resolve "):
        if marker in text:
            text = ("cannot resolve " if "resolve" in marker else "") + text.split(marker, 1)[1]
    return " ".join(text.split()) or type(seen).__name__


def _offline(e):
    """Whether a requests exception raised before any answer means the host cannot be reached."""
    import requests
    from urllib3.exceptions import NewConnectionError

    try:
        from urllib3.exceptions import NameResolutionError
    except ImportError:  # urllib3 1.x: a NewConnectionError
        NameResolutionError = NewConnectionError
    if isinstance(e, requests.exceptions.ConnectTimeout):
        return True
    return _caused_by(e, (NameResolutionError, NewConnectionError), follow_reason=True)


def _is_timeout(e):
    import requests
    from urllib3.exceptions import ReadTimeoutError

    if isinstance(e, requests.exceptions.Timeout):
        return True
    return _caused_by(e, (ReadTimeoutError, TimeoutError))


def _caused_by(e, types, follow_reason=False):
    """Whether `e` or one of the errors behind it (an exception given as its first argument, its
    urllib3 `reason` where `follow_reason`, else its context; at most 10 deep) is one of `types`."""
    seen, depth = e, 0
    while seen is not None and depth < 10:
        if isinstance(seen, types):
            return True
        wrapped = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else seen.__context__
        seen = (getattr(seen, "reason", None) if follow_reason else None) or wrapped
        depth += 1
    return False


def _content_range(value):
    """(start, total) of a Content-Range header `bytes START-END/TOTAL` (or `bytes */TOTAL`);
    None for a part that is absent or unreadable; total None when the server says `*`."""
    if not value or not value.startswith("bytes "):
        return None
    span, _, total = value[6:].partition("/")
    try:
        start = None if span.strip() == "*" else int(span.split("-", 1)[0])
        return start, None if total.strip() in ("", "*") else int(total)
    except ValueError:
        return None


def _offline_message(m, url, e):
    return (f"cannot reach {_host(url)} ({_reason(e)}): this machine looks offline. On a machine that is online, "
            f"run `{fetch_command(m.name)}` (or download {url}), bring the file here and install it with "
            f"`{fetch_command(m.name, '--from FILE')}`")


def _resume_hint(part, got, total):
    of = f" of {total:,}" if total else ""
    return f"{got:,}{of} bytes are kept in {part}: run the same command again to resume"


def _download(m, url, part, known, timeout, show):
    """Download `url` into `part`, resuming what is there; returns the size the server announced
    (None if it did not). A FetchError on an HTTP error, no network, a dropped or stalled transfer
    (the .part is kept) or a full disk."""
    try:
        import requests
    except ImportError:
        raise FetchError(f"downloading needs the requests package: pip install requests (or bring the file by hand "
                         f"and install it with `{fetch_command(m.name, '--from FILE')}`)") from None

    offset = os.path.getsize(part) if os.path.isfile(part) else 0
    if known is not None and offset > known:  # not a beginning of the file
        _remove(part)
        offset = 0
    if known is not None and offset == known:  # complete already (the checks were not reached)
        return known
    headers = {"Accept-Encoding": "identity"}  # the bytes as stored: Range counts them
    for attempt in range(2):  # a second request only to start again from 0
        if offset:
            headers["Range"] = f"bytes={offset}-"
            _say(show, f"resuming {os.path.basename(part)} at {offset:,} bytes")
        else:
            headers.pop("Range", None)
        try:
            response = requests.get(url, headers=headers, stream=True, timeout=(timeout, timeout))
        except requests.exceptions.RequestException as e:
            if _offline(e):
                raise FetchError(_offline_message(m, url, e)) from None
            if _is_timeout(e):
                raise FetchError(f"{_host(url)} did not answer within {timeout:g} s (a stalled server); "
                                 "try again later, or fetch from a mirror with --url URL") from None
            raise FetchError(f"cannot download {url} ({_reason(e)}); try again later, or fetch from a mirror "
                             "with --url URL") from None
        with response:
            status = response.status_code
            if status == 416 and offset:  # nothing past the end: complete, or not this file
                span = _content_range(response.headers.get("Content-Range"))
                if span and span[1] == offset:
                    return offset
                _remove(part)
                offset = 0
                continue
            if status >= 400:
                raise FetchError(_http_message(m, url, response))
            if status == 206:
                span = _content_range(response.headers.get("Content-Range"))
                if not offset:
                    raise FetchError(f"{url}: the server sent part of the file (HTTP 206) to a request for all "
                                     "of it; nothing was installed")
                if not span or span[0] != offset:  # not the part asked for: start again
                    _say(show, f"{_host(url)} sent another part than the one asked for: starting again")
                    _remove(part)
                    offset = 0
                    continue
                mode, total = "ab", span[1]
            else:
                if offset:
                    _say(show, f"{_host(url)} does not resume downloads (HTTP {status} to a Range request): "
                               "starting again")
                offset, mode = 0, "wb"
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
            if known is not None and total is not None and total != known:
                _remove(part)
                raise FetchError(f"{url}: the server has {total:,} bytes, the released {m.file} {known:,}: "
                                 "a wrong or damaged file; nothing was installed")
            _check_space(part, (total or known or 0) - offset)
            return _receive(response, part, mode, offset, total if total is not None else known, timeout, url, show)
    raise FetchError(f"{url}: the server does not send the file from its start; nothing was installed")


def _http_message(m, url, response):
    code, reason = response.status_code, (response.reason or "").strip()
    said = f"HTTP {code}" + (f" {reason}" if reason else "")
    if code == 404:
        return f"{said} from {url}: no file there (a wrong --url, or the file moved); nothing was installed"
    return f"{said} from {url}: nothing was installed; try again later, or fetch from a mirror with --url URL"


def _check_space(part, need):
    folder = os.path.dirname(os.path.abspath(part))
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if need > 0 and free < need:
        raise FetchError(f"not enough space in {folder}: {_mb(need)} needed, {_mb(free)} free; free some, or "
                         f"set {HOME_ENV} to another folder, and run the same command again")


def _open_part(part, mode):
    """The .part file opened for writing (a seam for the tests' full disk)."""
    return open(part, mode)


def _full_disk_message(path, e, done):
    return (f"the disk is full: cannot write {path} ({e.strerror or e}); {done}. Free some space (or set {HOME_ENV} to "
            "another folder) and run the same command again")


def _receive(response, part, mode, offset, total, timeout, url, show):
    """Stream the body into `part` (mode "ab" after `offset` bytes, else "wb"); returns `total`."""
    import requests

    from pycolorize.util.progress import progress

    got = offset
    bar = progress(total=-(-total // MIB) if total else None, initial=offset // MIB, unit="MiB",
                   desc=os.path.basename(part)[:-len(".part")]) if show else None
    counted = offset // MIB * MIB
    try:
        with _open_part(part, mode) as f:
            for chunk in response.iter_content(CHUNK):
                f.write(chunk)
                got += len(chunk)
                if bar is not None and got - counted >= MIB:
                    bar.update((got - counted) // MIB)
                    counted += (got - counted) // MIB * MIB
    except (requests.exceptions.RequestException, ConnectionError) as e:
        if _is_timeout(e):
            raise FetchError(f"{_host(url)} sent nothing for {timeout:g} s (a stalled server); "
                             + _resume_hint(part, got, total)) from None
        raise FetchError(f"the connection to {_host(url)} dropped ({_reason(e)}); "
                         + _resume_hint(part, got, total)) from None
    except OSError as e:
        if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise FetchError(_full_disk_message(part, e, f"{got:,} bytes are kept in it")) from None
        raise FetchError(f"cannot write {part} ({e.strerror or e}); {_resume_hint(part, got, total)}") from None
    finally:
        if bar is not None:
            if total and got >= total and counted < got:
                bar.update(-(-(got - counted) // MIB))
            bar.close()
    if total is not None and got < total:  # the server closed early without an error
        raise FetchError(f"the connection to {_host(url)} ended early; {_resume_hint(part, got, total)}")
    return total


# ---- checks --------------------------------------------------------------------------------------

def _check_size(m, file, what, expected, released, then="nothing was installed"):
    """The file's size against `expected` (None: nothing to check against)."""
    if expected is None:
        return
    size = os.path.getsize(file)
    if size != expected:
        whose = f"the released {m.file} has" if released else "the server announced"
        raise FetchError(f"{what}: {size:,} bytes where {whose} {expected:,}: truncated or not the model "
                         f"'{m.name}'; {then}")


def _strip(text, file):
    """An error's text without the leading `<file>: ` (the caller names the source instead)."""
    text = " ".join(str(text).split())
    for p in (file, os.path.abspath(file)):
        if text.startswith(p + ": "):
            return text[len(p) + 2:]
    return text


def check_layers(name, file, what=None):
    """Check that `file` holds model `name`'s weights: a Caffe HDF5 file in which every layer its
    deploy net learns is present with the net's parameter shapes (either published form: see the
    module's docstring), and whose blobs read to their end. A FetchError naming the first layer, in
    the net's order, that is missing or differs, or what h5py could not read (`what` names the
    file in it; default `file`)."""
    _check_layers(model(name), file, what or file)


def _check_layers(m, file, what, then="nothing was installed"):
    from pycolorize.engine.core import Error
    from pycolorize.engine.net import Net
    from pycolorize.engine.weights import match_blobs, open_h5, read_caffe_h5, read_into

    net_file = prototxt(m.name)
    net = Net(net_file, phase="test", optimize=False)  # the layers as written, with their lr_mult
    params = net.params
    where = f"'{m.name}' ({os.path.basename(net_file)})"
    try:
        with open_h5(file) as f:
            stored = read_caffe_h5(f, file, layers=set(params), lazy=True)
            pending = []
            for layer, blobs in params.items():  # the net's order: the first layer that is wrong is named
                if layer not in stored:
                    if any(net.lr_mult(layer, i) != 0 for i in range(len(blobs))):
                        raise Error(f"{file}: no layer '{layer}', which the deploy net of {where} learns "
                                    f"(shapes {', '.join(str(tuple(b.shape)) for b in blobs)})")
                    continue  # a fixed layer (the bilinear upsampling): its filler makes it
                pending += match_blobs(net, file, params, {layer: stored[layer]})[0]
            for _, src in pending:
                read_into(src, False, file)  # every byte reads (a damaged dataset fails here, not in use)
    except (Error, OSError) as e:
        raise FetchError(f"{what}: {_strip(e, file)}; not the weights of {where}; {then}") from None


def _sha256(file):
    h = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(HASH_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _sha_file(final):
    return final + ".sha256"


def _recorded(final):
    """The sha256 recorded beside `final`, or None."""
    try:
        with open(_sha_file(final)) as f:
            text = f.read().split()
    except OSError:
        return None
    digest = text[0].lower() if text else ""
    return digest if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest) else None


def _publish(src, final, digest=None):
    """`src` to `final`, atomically, with its sha256 recorded beside it just before the rename:
    the checked .part is moved (its `digest` given), a copy brought by hand (`digest` None) is
    copied and hashed on the way. A failure (the disk full, ...) is a FetchError and leaves no file
    under the final name (a moved .part keeps its name until the rename)."""
    move = digest is not None
    state = {"digest": digest}

    def record():
        with atomic_open(_sha_file(final), "w") as f:
            f.write(f"{state['digest']}  {os.path.basename(final)}\n")

    existed = os.path.isfile(final)
    before = _recorded(final) if existed else None
    try:
        if move:  # the checked .part itself: flushed, recorded, renamed; Ctrl-C before the rename keeps it
            with open(src, "rb+") as fh:
                os.fsync(fh.fileno())
            with atomic_open(_sha_file(final), "w") as f:
                f.write(f"{digest}  {os.path.basename(final)}\n")
            os.replace(src, final)
            state["renamed"] = True
            fsync_dir(os.path.dirname(os.path.abspath(final)))
        else:
            with atomic_path(final, before_publish=record) as tmp:
                state["tmp"] = tmp
                state["digest"] = _copy(src, tmp)
    except BaseException as e:
        # not renamed (an error, Ctrl-C): `final` is absent, or the earlier file, whose record goes
        # back as it was; a moved .part is still there, for the next fetch
        if not state.get("renamed"):
            with contextlib.suppress(OSError):
                if existed and before:
                    with atomic_open(_sha_file(final), "w") as f:
                        f.write(f"{before}  {os.path.basename(final)}\n")
                elif not os.path.isfile(final):
                    _remove(_sha_file(final))
        if not isinstance(e, OSError):
            raise
        if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise FetchError(_full_disk_message(final, e, "nothing was installed")) from None
        raise FetchError(f"cannot install {final} ({e}); nothing was installed") from None


def _copy(src, dst):
    """Copy `src` to `dst`; returns the sha256 of the bytes copied."""
    h = hashlib.sha256()
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        for block in iter(lambda: fi.read(HASH_CHUNK), b""):
            h.update(block)
            fo.write(block)
    return h.hexdigest()


def _install_copy(m, src, final, show):
    """A copy brought by hand: checked (its size too when it bears the released file's name), then
    copied into the cache atomically."""
    if not os.path.isfile(src):
        raise FetchError(f"--from {src}: no such file")
    released = m.size is not None and os.path.basename(src) == m.file
    _check_size(m, src, src, m.size if released else None, True)
    _check_layers(m, src, src)
    _makedirs(os.path.dirname(final))
    _say(show, f"copying {src} to {final}")
    _publish(src, final)
    return final


# ---- what is there -------------------------------------------------------------------------------

def verify(name=DEFAULT):
    """Check the cached file of model `name` again: its sha256 against the one recorded when it was
    installed (when there is none, a file put there by hand: the released size, and the digest is
    recorded now), and its layers and shapes. Returns a dict (path, size, sha256, recorded: whether
    a digest was already on record, released_size: whether it has the released file's size); a
    NotFetchedError or a FetchError in one line otherwise."""
    m = model(name)
    final = path(name)
    size = os.path.getsize(final)
    recorded = _recorded(final)
    digest = _sha256(final)
    if recorded is not None and digest != recorded:
        raise FetchError(f"{final} has changed since it was checked (sha256 {digest[:16]}... now, {recorded[:16]}... "
                         f"recorded): fetch it again with `{fetch_command(name, '--force')}`")
    if recorded is None:
        _check_size(m, final, final, m.size, True, then=f"fetch it again with `{fetch_command(name, '--force')}`")
    _check_layers(m, final, final, then=f"fetch it again with `{fetch_command(name, '--force')}`")
    if recorded is None:
        try:
            with atomic_open(_sha_file(final), "w") as f:
                f.write(f"{digest}  {os.path.basename(final)}\n")
        except OSError as e:
            raise FetchError(f"cannot record the sha256 of {final} ({e})") from None
    return {"name": name, "path": final, "size": size, "sha256": digest, "recorded": recorded is not None,
            "released_size": m.size is not None and size == m.size}


def list():  # noqa: A001 (the module's verb: zoo.list())
    """What is known and what is cached: one dict per model (name, file, url, size, prototxt,
    description, path: the cached file or None, bytes: its size, sha256: the digest on record or
    None, partial: the bytes of an unfinished download or None), in the registry's order."""
    out = []
    for name, m in MODELS.items():
        final = os.path.join(home(), m.file)
        cached = os.path.isfile(final)
        part = final + ".part"
        out.append({"name": name, "file": m.file, "url": m.url, "size": m.size, "prototxt": m.prototxt,
                    "description": m.description, "path": final if cached else None,
                    "bytes": os.path.getsize(final) if cached else None,
                    "sha256": _recorded(final) if cached else None,
                    "partial": os.path.getsize(part) if os.path.isfile(part) else None})
    return out
