"""Tar shards (the WebDataset layout): `pycolorize make-shards` writes them from a folder or a list,
the "tar" source reads them (locally, over HTTP, through a pipe; gzipped too), a tiny net trains on
them and resumes exactly, each rank reads its own shards, a resume in the middle of a shard gives
the batches of an uninterrupted run, and damaged shards (cut short, a corrupt member, a corrupt
header, a sample without its image) are reported and skipped."""
import csv
import functools
import gzip
import http.server
import io
import os
import shutil
import tarfile
import threading

import numpy as np
import pytest
from PIL import Image

import pycolorize
from pycolorize import cli, data, models
from pycolorize.data import shards
from pycolorize.training.loop import train

from conftest import tool_main

MINI = {"conv": (3, 3, 4, 4, 4), "fc": 4, "h_fc1": 5}


@pytest.fixture
def photos(tmp_path):
    rng = np.random.RandomState(0)
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    for i in range(10):
        Image.fromarray((rng.rand(72 + i, 80, 3) * 255).astype(np.uint8)).save(d / f"im{i}.jpg", quality=90)
    Image.fromarray((rng.rand(75, 90, 3) * 255).astype(np.uint8)).save(d / "sub" / "a.b.png")
    Image.fromarray((rng.rand(80, 80) * 255).astype(np.uint8)).save(d / "sub" / "gray.bmp")
    return d


def make(photos, out, *extra):
    return cli.main(["make-shards", str(photos), "-o", str(out), "--quiet", *extra])


def take(loader, n):
    return [next(loader) for _ in range(n)]


def same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for k in x:
            np.testing.assert_array_equal(x[k], y[k], err_msg=k)


def samples_of(path):
    return [s for s in shards.read_shard(str(path)) if not isinstance(s, shards.Damage)]


# ---- writing -------------------------------------------------------------------------------------

def test_make_shards_from_a_folder_and_a_list(photos, tmp_path, capsys):
    assert cli.main(["make-shards", str(photos), "-o", str(tmp_path / "out" / "p-%03d.tar"), "--shard-size", "5"]) == 0
    said = capsys.readouterr().out
    assert "wrote 12 images in 3 shards" in said and f'path: "{tmp_path}/out/p-{{000..002}}.tar"' in said
    got = {}
    for n in range(3):
        for key, members in samples_of(tmp_path / "out" / f"p-{n:03d}.tar"):
            got[key] = members
    assert sorted(got) == sorted([f"im{i}" for i in range(10)] + ["sub/a_b", "sub/gray"])
    assert set(got["im3"]) == {"jpg"} and set(got["sub/a_b"]) == {"png"} and set(got["sub/gray"]) == {"png"}
    assert got["im3"]["jpg"] == (photos / "im3.jpg").read_bytes()  # stored as they are
    gray = np.asarray(Image.open(io.BytesIO(got["sub/gray"]["png"])))
    np.testing.assert_array_equal(gray, np.asarray(Image.open(photos / "sub" / "gray.bmp")))  # BMP: lossless PNG
    # a list: its labels become KEY.cls; the tool under tools/ is the same command
    (tmp_path / "list.txt").write_text("# two\n/im1.jpg 7\nsub/a.b.png\n")
    assert tool_main("make_shards.py")([str(tmp_path / "list.txt"), "--root", str(photos), "-o",
                                        str(tmp_path / "l-%d.tar"), "--no-shuffle"]) == 0
    listed = samples_of(tmp_path / "l-0.tar")
    assert [k for k, _ in listed] == ["im1", "sub/a_b"] and listed[0][1]["cls"] == b"7\n" and "cls" not in listed[1][1]


def test_make_shards_errors(photos, tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["make-shards", str(photos), "-o", str(tmp_path / "no-number.tar")])
    assert done.value.code == 2 and "number field" in capsys.readouterr().err
    assert cli.main(["make-shards", str(tmp_path / "nowhere"), "-o", str(tmp_path / "x-%d.tar")]) == 1
    assert "no such folder or list file" in capsys.readouterr().err
    (photos / "zz.jpg").write_bytes(b"junk")
    assert make(photos, tmp_path / "v-%d.tar", "--verify") == 0
    assert "left out zz.jpg" in capsys.readouterr().err
    assert sum(len(samples_of(p)) for p in tmp_path.glob("v-*.tar")) == 12


# ---- reading and training ------------------------------------------------------------------------

def test_an_interrupted_make_shards_leaves_only_whole_shards(photos, tmp_path, monkeypatch):
    # Ctrl-C while the third shard is written: the two finished shards are under their names and
    # whole, the third is nowhere (no partial shard, no temporary), and a rerun writes them all
    real_add, calls = shards._add, []

    def add(tar, name, data, mtime):
        calls.append(name)
        if len(calls) == 9:  # the ninth image: the third shard of four images each
            raise KeyboardInterrupt
        real_add(tar, name, data, mtime)

    monkeypatch.setattr(shards, "_add", add)
    out = tmp_path / "out"
    assert make(photos, out / "s-%02d.tar", "--shard-size", "4") == 130
    assert sorted(os.listdir(out)) == ["s-00.tar", "s-01.tar"]
    first = [len(tarfile.open(out / n).getnames()) for n in sorted(os.listdir(out))]
    assert first == [4, 4]
    monkeypatch.setattr(shards, "_add", real_add)
    assert make(photos, out / "s-%02d.tar", "--shard-size", "4") == 0
    assert sorted(os.listdir(out)) == ["s-00.tar", "s-01.tar", "s-02.tar"]


def test_a_tar_source_gives_the_folders_images(photos, tmp_path):
    make(photos, tmp_path / "s-%02d.tar", "--shard-size", "4")
    source = data.open_source({"type": "tar", "path": str(tmp_path / "s-{00..02}.tar")})
    assert len(source.shards) == 3 and source.kind == data.sources.IMAGE
    seen = {}
    for item in source.epoch_items(0, seed=0):
        seen[item.name.split(":", 1)[1]] = data.pixels.decode_bytes(item.job)
    assert len(seen) == 12
    np.testing.assert_array_equal(seen["im4.jpg"], data.pixels.load_pixels(str(photos / "im4.jpg")))
    with pytest.raises(FileNotFoundError, match="no such shard: .*s-03.tar"):
        data.open_source({"type": "tar", "path": str(tmp_path / "s-{00..03}.tar")})
    with pytest.raises(ValueError, match="'shuffle' must be a whole number"):
        data.open_source({"type": "tar", "path": str(tmp_path / "s-00.tar"), "shuffle": -1})


@pytest.fixture
def tiny(photos, tmp_path):
    make(photos, tmp_path / "shards" / "t-%02d.tar", "--shard-size", "5")
    (tmp_path / "net.prototxt").write_text(models.train_net("hue_chroma", MINI, batch=2, crop=64, samples=8,
                                                            trunk_filler='type: "msra"'))
    (tmp_path / "solver.prototxt").write_text(models.solver_text(
        str(tmp_path / "net.prototxt"), base_lr=0.01, max_iter=8, steps=(4,), prefix=str(tmp_path / "snaps" / "mini"),
        snapshot=3, random_seed=5))
    (tmp_path / "data.yaml").write_text(f"source: {{type: tar, path: '{tmp_path}/shards/t-{{00..02}}.tar', shuffle: 3}}\n"
                                        "short_side: 72\nmargin: 4\nworkers: 2\n")
    return tmp_path


def test_a_tiny_net_trains_on_tar_shards_and_resumes_exactly(tiny):
    t = tiny
    straight = train(str(t / "solver.prototxt"), str(t / "data.yaml"), progress=False)
    rows = list(csv.DictReader(open(t / "snaps" / "mini_log.csv")))
    assert [int(r["iter"]) for r in rows] == list(range(1, 9)) and all(0 < float(r["loss"]) < 1e3 for r in rows)
    final = {(k, i): p.data.copy() for k, ps in straight.net.params.items() for i, p in enumerate(ps)}
    pycolorize.set_random_seed(999)
    # iteration 3: 6 of the 12 images read, in the middle of a shard of 5 (the state names it)
    resumed = train(str(t / "solver.prototxt"), str(t / "data.yaml"), progress=False,
                    resume=str(t / "snaps" / "mini_iter_3.solverstate.h5"), log=str(t / "resumed.csv"))
    for (k, i), value in final.items():
        np.testing.assert_array_equal(resumed.net.params[k][i].data, value, err_msg=f"{k}[{i}]")


@pytest.mark.parametrize("shuffle", [1, 3])
def test_resume_in_the_middle_of_a_shard_gives_the_uninterrupted_batches(tiny, shuffle):
    source = data.open_source({"type": "tar", "path": str(tiny / "shards" / "t-{00..02}.tar"), "shuffle": shuffle})
    kw = dict(batch=3, crop=64, short_side=72, samples=8, margin=4, seed=2, log=io.StringIO())
    with data.Loader(source, workers=2, **kw) as a:
        straight = take(a, 10)  # 30 images: into the third epoch
    for cut in (1, 2, 5):
        with data.Loader(source, workers=1, **kw) as b:
            take(b, cut)
            state = b.state()
        assert 0 < state["member"] < 5 or cut == 5, state  # in the middle of a shard
        for given in (state, {k: state[k] for k in ("epoch", "index", "seed")}):  # the distributed trainer keeps these
            with data.Loader(source, workers=3, **kw) as c:
                c.restore(given)
                same(take(c, 10 - cut), straight[cut:])


def test_each_rank_reads_its_own_shards(tiny):
    source = data.open_source({"type": "tar", "path": str(tiny / "shards" / "t-{00..02}.tar")})
    for epoch in range(3):
        mine = [source.order(epoch, 0, r, 2)[0] for r in range(2)]
        assert sorted(mine[0] + mine[1]) == [0, 1, 2] and not set(mine[0]) & set(mine[1])
        names = [{i.name.split(":")[0] for i in source.epoch_items(epoch, 0, r, 2, 2) if isinstance(i, shards.Item)}
                 for r in range(2)]
        assert names[0] == {source.shards[k] for k in mine[0]} and not names[0] & names[1]
    # fewer shards than ranks: every rank reads them all and keeps its blocks, as with a folder
    kw = dict(crop=64, short_side=72, samples=4, margin=4, seed=1, log=io.StringIO(), workers=1)
    with data.Loader(source, batch=4, **kw) as whole:
        glob = take(whole, 5)
    parts = []
    for r in range(4):
        with data.Loader(source, batch=1, shard=(r, 4), **kw) as part:
            parts.append(take(part, 5))
    for k in range(5):
        np.testing.assert_array_equal(np.concatenate([parts[r][k]["data"] for r in range(4)]), glob[k]["data"])


def test_shards_over_http_through_a_pipe_and_gzipped(tiny):
    folder = tiny / "shards"
    local = data.open_source({"type": "tar", "path": str(folder / "t-{00..02}.tar")})
    expected = [(i.name.rsplit(":", 1)[1], i.job) for i in local.epoch_items(1, 4)]
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/t-{{00..02}}.tar"
        remote = data.open_source({"type": "tar", "path": url})
        assert [(i.name.rsplit(":", 1)[1], i.job) for i in remote.epoch_items(1, 4)] == expected
    finally:
        server.shutdown()
    piped = data.open_source({"type": "tar", "path": f"pipe:cat {folder}/t-{{00..02}}.tar"})
    assert [(i.name.rsplit(":", 1)[1], i.job) for i in piped.epoch_items(1, 4)] == expected
    for n in range(3):
        with open(folder / f"t-{n:02d}.tar", "rb") as f, gzip.open(folder / f"t-{n:02d}.tar.gz", "wb") as g:
            shutil.copyfileobj(f, g)
    zipped = data.open_source({"type": "tar", "path": str(folder / "t-{00..02}.tar.gz")})
    assert [(i.name.rsplit(":", 1)[1], i.job) for i in zipped.epoch_items(1, 4)] == expected


# ---- damage --------------------------------------------------------------------------------------

def member_offsets(path):
    with tarfile.open(path) as tar:
        return [(m.name, m.offset, m.offset_data, m.size) for m in tar.getmembers()]


def test_damaged_shards_are_reported_and_skipped(tiny):
    folder = tiny / "shards"
    offsets = member_offsets(folder / "t-01.tar")
    # t-00: a corrupt member (its JPEG bytes overwritten)
    name0, _, data0, size0 = member_offsets(folder / "t-00.tar")[1]
    with open(folder / "t-00.tar", "r+b") as f:
        f.seek(data0 + 2)
        f.write(b"\x00garbage" * 20)
    # t-01: its third header overwritten (the reader finds the fourth), then cut short in the fifth member
    name1 = offsets[2][0]
    with open(folder / "t-01.tar", "r+b") as f:
        f.seek(offsets[2][1])
        f.write(b"\x13" * 512)
        f.truncate(offsets[4][2] + offsets[4][3] // 2)
    # t-02: a sample without its image (only KEY.cls), added at the end
    with tarfile.open(folder / "t-02.tar", "a") as tar:
        info = tarfile.TarInfo("lonely.cls")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"3\n"))
    source = data.open_source({"type": "tar", "path": str(folder / "t-{00..02}.tar")})
    log = io.StringIO()
    with data.Loader(source, batch=2, crop=64, short_side=72, samples=4, margin=4, workers=2, log=log) as loader:
        take(loader, 12)  # more than two epochs
    text = log.getvalue()
    lines = text.splitlines()
    assert all(line.startswith("pycolorize.data: skipping ") for line in lines), text
    assert sum(f"t-00.tar:{name0}" in line and "not a readable image" in line for line in lines) == 1, text
    assert sum("t-01.tar" in line and "unreadable bytes skipped" in line for line in lines) == 1, text
    assert sum("t-01.tar" in line and "damaged after 3 samples" in line for line in lines) == 1, text
    assert sum("t-02.tar:lonely" in line and "no image member" in line and "lonely.cls" in line for line in lines) == 1
    assert name1 not in text  # the member whose header was lost is not named: its bytes are skipped
    assert len(lines) == 4
    # what is left to decode (shards of 5, 5 and 2): all of t-00 (its corrupt member fails in a worker), 3 of t-01
    # and the 2 images of t-02
    assert sum(1 for i in source.epoch_items(0, 0) if isinstance(i, shards.Item)) == 5 + 3 + 2
    # a file that is no tar at all is one damaged shard
    (folder / "t-03.tar").write_bytes(b"not a tar file, not at all" * 40)
    bad = list(data.open_source({"type": "tar", "path": str(folder / "t-03.tar")}).epoch_items(0, 0))
    assert len(bad) == 1 and isinstance(bad[0], shards.Skip) and "damaged" in bad[0].message


def test_only_damaged_shards_stop_with_one_clear_error(tmp_path):
    (tmp_path / "a.tar").write_bytes(b"\x01" * 2048)
    with data.Loader(data.open_source({"type": "tar", "path": str(tmp_path / "a.tar")}), batch=1, crop=32, margin=2,
                     log=io.StringIO()) as loader:
        with pytest.raises(RuntimeError, match="no usable image"):
            next(loader)
