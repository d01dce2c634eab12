"""pycolorize.util.files, the one way the project writes a file: whole or not at all, flushed before
the rename, and the temporaries a killed process left removed by the next write into the folder."""
import os
import subprocess
import sys

import pytest

from pycolorize.util import files


def test_a_file_appears_only_complete(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with files.atomic_open(target) as f:
        f.write("new")
        # while it is written, the target still holds the old file and the new data is in a temporary
        assert target.read_text() == "old"
        temps = [n for n in os.listdir(tmp_path) if n.startswith(files.PREFIX)]
        assert len(temps) == 1 and temps[0].endswith(".json")
    assert target.read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["out.json"]


def test_an_error_midway_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with files.atomic_open(target, "wb") as f:
            f.write(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]
    with pytest.raises(KeyboardInterrupt):
        with files.atomic_path(target) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"half")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]


def test_the_data_is_flushed_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append("rename") or real_replace(a, b))
    with files.atomic_open(tmp_path / "x.txt") as f:
        f.write("data")
    # the file's data, then the rename, then the folder's entry
    assert events == ["fsync", "rename", "fsync"]


def test_permissions_are_those_of_a_plain_write(tmp_path):
    # a new file as open() makes it (not mkstemp's owner-only 0o600); a file written over keeps its mode
    with open(tmp_path / "plain.txt", "w") as f:
        f.write("x")
    with files.atomic_open(tmp_path / "new.txt") as f:
        f.write("x")
    assert os.stat(tmp_path / "new.txt").st_mode & 0o777 == os.stat(tmp_path / "plain.txt").st_mode & 0o777
    os.chmod(tmp_path / "new.txt", 0o640)
    with files.atomic_open(tmp_path / "new.txt") as f:
        f.write("y")
    assert os.stat(tmp_path / "new.txt").st_mode & 0o777 == 0o640


def test_an_os_error_names_the_target(tmp_path):
    with pytest.raises(OSError, match=r"cannot write .*missing/x.txt: .*any earlier file there is untouched"):
        with files.atomic_open(tmp_path / "missing" / "x.txt") as f:
            f.write("x")
    with pytest.raises(ValueError, match="mode 'w' or 'wb'"):
        with files.atomic_open(tmp_path / "x.txt", "a"):
            pass


def dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_killed_writers_temporaries_go_with_the_next_write(tmp_path):
    host = files._host()
    dead = tmp_path / f"{files.PREFIX}{host}-{dead_pid()}-abc.h5"        # this host, process gone: removed
    live = tmp_path / f"{files.PREFIX}{host}-{os.getppid()}-def.h5"      # this host, process running: kept
    other = tmp_path / f"{files.PREFIX}otherhost-{dead_pid()}-ghi.h5"   # another host's: kept
    old_style = tmp_path / ".tmp-xyz.h5"                                 # not ours to judge: kept
    for p in (dead, live, other, old_style):
        p.write_bytes(b"partial")
    files._cleaned.discard(str(tmp_path))
    with files.atomic_open(tmp_path / "model.json") as f:
        f.write("{}")
    assert not dead.exists()
    assert live.exists() and other.exists() and old_style.exists()
    assert (tmp_path / "model.json").read_text() == "{}"


def test_remove_stale_temporaries_reports_what_it_removed(tmp_path):
    name = f"{files.PREFIX}{files._host()}-{dead_pid()}-x.png"
    (tmp_path / name).write_bytes(b"")
    (tmp_path / "keep.png").write_bytes(b"")
    assert files.remove_stale_temporaries(str(tmp_path)) == [name]
    assert os.listdir(tmp_path) == ["keep.png"]
    assert files.remove_stale_temporaries(str(tmp_path / "absent")) == []
