"""Files that appear whole or not at all: the one way pycolorize writes a file (weights, snapshots,
calibration, results, predictions, colorized photos, logs rewritten on resume).

    with atomic_open("summary.json", "w") as f:      # a file object
        json.dump(results, f)
    with atomic_path("model.caffemodel.h5") as tmp:  # a path, for writers that want one (h5py, Pillow)
        write_somehow(tmp)

The data goes to a temporary file beside the target (``.tmp-<host>-<pid>-...``, so a folder listing
or a glob for the target's name never meets it), is flushed to disk (fsync), renamed over the target,
and the folder is flushed too, so that the rename survives a power cut. An exception or Ctrl-C midway
removes the temporary and leaves any earlier file untouched. A ``kill -9`` midway leaves only the
temporary; the next write into that folder removes the temporaries of processes of this host that
are no longer running.
"""
import contextlib
import os
import socket
import tempfile

PREFIX = ".tmp-"  # every temporary starts with it (pycolorize.engine.solver's snapshot search skips them)
_cleaned = set()  # folders whose dead temporaries this process has already removed


def _umask():
    mask = os.umask(0o022)  # read once, at import (os.umask can only be read by setting it)
    os.umask(mask)
    return mask


# A new file gets the permissions open() would give it (0o666 less the umask), not mkstemp's 0o600;
# a file written over keeps its own.
NEW_FILE_MODE = 0o666 & ~_umask()


def _host():
    return socket.gethostname().replace("-", "_") or "host"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(directory):
    """Remove the temporaries in `directory` that processes of this host left when they were killed
    (their process is gone); another host's, and a live process's, are left alone. Returns the
    names removed."""
    removed = []
    host = _host()
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(PREFIX):
            continue
        parts = name[len(PREFIX):].split("-", 2)
        if len(parts) < 3 or parts[0] != host or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid == os.getpid() or _alive(pid):
            continue
        with contextlib.suppress(OSError):
            os.remove(os.path.join(directory, name))
            removed.append(name)
    return removed


def fsync_dir(directory):
    """Flush a folder's entries (a rename in it) to disk, where the system allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not every system lets a folder be opened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, before_publish=None):
    """Yield a temporary path beside `path` to write; when the block ends the file there is flushed
    to disk and renamed to `path` (see the module doc). `before_publish()`, if given, runs once the
    temporary is complete, just before the rename. The temporary keeps `path`'s extension, for
    writers that choose a format by it. An OS error (disk full, read-only or missing folder) is an
    OSError naming `path`."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if directory not in _cleaned:
        remove_stale_temporaries(directory)
        _cleaned.add(directory)
    ext = os.path.splitext(path)[1]
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{PREFIX}{_host()}-{os.getpid()}-", suffix=ext, dir=directory)
        try:
            os.fchmod(fd, os.stat(path).st_mode & 0o7777 if os.path.exists(path) else NEW_FILE_MODE)
        finally:
            os.close(fd)
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if before_publish is not None:
            before_publish()
        os.replace(tmp, path)
        tmp = None
        fsync_dir(directory)
    except OSError as e:
        err = OSError(f"cannot write {path}: {e}; any earlier file there is untouched")
        err.errno = e.errno
        raise err from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp)


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """open(path, mode, **kwargs) for writing ("w" or "wb"), with the file appearing at `path` only
    once complete (atomic_path)."""
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"atomic_open writes a whole file: mode 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as f:
        yield f
