"""Semantic segmentation on VOC 2012 (pycolorize.data.voc, `pycolorize evaluate-segmentation`):
the palette, the VOC layout and its errors, training examples, FCN's scores on a hand-computed
case, prediction files, and the command end to end on a synthetic VOC (tests/synthetic_voc.py)
with predictions made elsewhere and with a tiny net whose output is known, interrupted and resumed."""
import csv
import json
import os

import numpy as np
import pytest
from PIL import Image

import pycolorize
from pycolorize import cli
from pycolorize.colorization import color
from pycolorize.data import voc as vocdata
from pycolorize.evaluation import segmentation as seg

from conftest import tool_main
from synthetic_voc import make_synthetic_voc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_png(path, a, mode="P"):
    im = Image.fromarray(np.asarray(a, np.uint8), mode=mode)
    if mode == "P":
        im.putpalette(vocdata.PALETTE.tobytes())
    im.save(path)


def one_line(err, prefix):
    assert len(err.strip().splitlines()) == 1 and err.startswith(prefix) and "Traceback" not in err, err
    return err


# ---- constants ---------------------------------------------------------------------------------

def test_palette_and_classes():
    assert vocdata.PALETTE.shape == (256, 3) and vocdata.PALETTE.dtype == np.uint8
    assert tuple(vocdata.PALETTE[0]) == (0, 0, 0)
    assert tuple(vocdata.PALETTE[1]) == (128, 0, 0)
    assert tuple(vocdata.PALETTE[2]) == (0, 128, 0)
    assert tuple(vocdata.PALETTE[15]) == (192, 128, 128)
    assert tuple(vocdata.PALETTE[20]) == (0, 64, 128)
    assert tuple(vocdata.PALETTE[255]) == (224, 224, 192)
    assert len({tuple(c) for c in vocdata.PALETTE}) == 256
    assert len(vocdata.CLASSES) == 21 and vocdata.CLASSES[0] == "background" and vocdata.CLASSES[1] == "aeroplane"
    assert vocdata.CLASSES[15] == "person" and vocdata.CLASSES[20] == "tvmonitor" and vocdata.IGNORE == 255
    assert vocdata.MEAN_GRAY == pytest.approx((0.485 + 0.456 + 0.406) / 3)


# ---- the synthetic VOC -------------------------------------------------------------------------

def test_synthetic_voc_is_voc_shaped_and_learnable_from_gray(tmp_path):
    sizes = [(64, 80), (96, 72), (64, 64)]
    voc = make_synthetic_voc(tmp_path / "a", n_train=9, n_val=6, size=sizes, seed=5, classes=(1, 8, 15, 12))
    root = voc["root"]
    for name in ("train", "val", "trainval"):
        assert os.path.isfile(os.path.join(root, "ImageSets", "Segmentation", name + ".txt"))
    assert vocdata.voc_pairs(root, "trainval") == vocdata.voc_pairs(root, "train") + vocdata.voc_pairs(root, "val")
    vocdata.check_labels(vocdata.voc_pairs(root, "trainval"))
    levels = {}  # class -> gray values of its pixels away from every boundary
    correct = total = 0
    for split in ("train", "val"):
        seen = set()
        for n, (i, image, label) in enumerate(vocdata.voc_pairs(root, split)):
            im = Image.open(label)
            assert im.mode == "P" and im.getpalette()[:3 * 21] == vocdata.PALETTE[:21].ravel().tolist()
            rgb, lab = vocdata.read_pair(image, label)
            assert lab.shape == sizes[(n + (9 if split == "val" else 0)) % 3]
            assert set(np.unique(lab).tolist()) <= {0, 1, 8, 12, 15, 255}
            seen |= set(np.unique(lab).tolist())
            # VOC's void band: no two different classes touch (4-neighbours) without 255 between
            for a, b in ((lab[1:], lab[:-1]), (lab[:, 1:], lab[:, :-1])):
                assert not ((a != b) & (a != 255) & (b != 255)).any(), i
            assert (lab == 255).any() and (lab == 0).any()
            g = color.gray(rgb)
            for c in np.unique(lab[lab != 255]).tolist():
                levels.setdefault(c, []).append(g[lab == c])
        assert {1, 8, 12, 15} <= seen, split  # every class in every split
    # each class has its own gray level: the nearest level classifies most pixels of a 5x5 mean
    means = {c: np.concatenate(v).mean() for c, v in levels.items()}
    assert min(abs(a - b) for a in means.values() for b in means.values() if a is not b) > 0.1, means
    for i, image, label in vocdata.voc_pairs(root, "val"):
        rgb, lab = vocdata.read_pair(image, label)
        g = color.gray(rgb)
        h, w = g.shape
        p = np.pad(g, 2, mode="edge")
        smooth = sum(p[dy:dy + h, dx:dx + w] for dy in range(5) for dx in range(5)) / 25
        keys = np.array(list(means))
        guess = keys[np.argmin(np.abs(smooth[..., None] - np.array(list(means.values()))), axis=-1)]
        correct += int((guess == lab)[lab != 255].sum())
        total += int((lab != 255).sum())
    assert correct / total > 0.9
    # one seed, one dataset
    again = make_synthetic_voc(tmp_path / "b", n_train=9, n_val=6, size=sizes, seed=5, classes=(1, 8, 15, 12))
    assert again["val"] == voc["val"]
    for rel in ("JPEGImages/val_000002.jpg", "SegmentationClass/val_000002.png"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


# ---- reading labels and lists ------------------------------------------------------------------

def test_read_label_palette_gives_indices_not_colours(tmp_path):
    a = np.array([[0, 1, 15], [20, 255, 7]], np.uint8)
    write_png(tmp_path / "p.png", a)
    assert Image.open(tmp_path / "p.png").mode == "P"
    np.testing.assert_array_equal(vocdata.read_label(tmp_path / "p.png"), a)
    # the same indices under a scrambled palette: still the indices
    im = Image.fromarray(a, mode="P")
    im.putpalette(vocdata.PALETTE[::-1].tobytes())
    im.save(tmp_path / "q.png")
    np.testing.assert_array_equal(vocdata.read_label(tmp_path / "q.png"), a)
    write_png(tmp_path / "l.png", a, mode="L")
    np.testing.assert_array_equal(vocdata.read_label(tmp_path / "l.png"), a)


def test_read_label_names_bad_values_with_counts_and_bad_modes(tmp_path):
    a = np.zeros((4, 5), np.uint8)
    a[0, :3] = 21
    a[1, 0] = 254
    write_png(tmp_path / "bad.png", a)
    with pytest.raises(ValueError) as e:
        vocdata.read_label(tmp_path / "bad.png")
    msg = str(e.value)
    assert "bad.png" in msg and "21 (3 px)" in msg and "254 (1 px)" in msg and "0..20 and 255" in msg
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match=r"rgb\.png: a RGB image"):
        vocdata.read_label(tmp_path / "rgb.png")


def test_read_pair_names_both_sizes(tmp_path):
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "x.jpg")
    write_png(tmp_path / "x.png", np.zeros((40, 30), np.uint8))
    with pytest.raises(ValueError) as e:
        vocdata.read_pair(tmp_path / "x.jpg", tmp_path / "x.png")
    assert "30x40" in str(e.value) and "40x30" in str(e.value) and "x.png" in str(e.value)
    write_png(tmp_path / "x.png", np.full((30, 40), 3, np.uint8))
    rgb, label = vocdata.read_pair(tmp_path / "x.jpg", tmp_path / "x.png")
    assert rgb.shape == (30, 40, 3) and label.shape == (30, 40) and (label == 3).all()


def test_voc_pairs_formats_and_counted_errors(tmp_path):
    voc = make_synthetic_voc(tmp_path / "voc", n_train=4, n_val=2, size=(40, 48))
    root = voc["root"]
    pairs = vocdata.voc_pairs(root, "ImageSets/Segmentation/train.txt")
    assert [p[0] for p in pairs] == voc["train"]
    assert pairs[0] == (voc["train"][0], os.path.join(root, "JPEGImages", voc["train"][0] + ".jpg"),
                        os.path.join(root, "SegmentationClass", voc["train"][0] + ".png"))
    assert vocdata.voc_pairs(root, "val") == vocdata.voc_pairs(root, os.path.join(root, "ImageSets/Segmentation/val.txt"))
    # the SBD train_aug form: '<image> <label>' relative to the root, comments and blank lines
    aug = tmp_path / "aug.txt"
    aug.write_text(f"# comment\n\n/JPEGImages/{voc['val'][1]}.jpg /SegmentationClass/{voc['val'][1]}.png\n")
    assert vocdata.voc_pairs(root, str(aug)) == [vocdata.voc_pairs(root, "val")[1]]
    # missing files: every one counted, the first named with its line
    os.remove(os.path.join(root, "SegmentationClass", voc["train"][1] + ".png"))
    os.remove(os.path.join(root, "SegmentationClass", voc["train"][3] + ".png"))
    os.remove(os.path.join(root, "JPEGImages", voc["train"][2] + ".jpg"))
    with pytest.raises(FileNotFoundError) as e:
        vocdata.voc_pairs(root, "train")
    msg = str(e.value)
    assert "train.txt" in msg and "2 of 4 images have no label PNG" in msg and "1 of 4 images have no JPEG" in msg
    assert f"{voc['train'][1]}.png (line 2)" in msg and f"{voc['train'][2]}.jpg (line 3)" in msg
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{voc['val'][0]}\na b c\n{voc['val'][0]}\n")
    with pytest.raises(ValueError, match=r"line 2.*listed twice.*lines 1 and 3"):
        vocdata.voc_pairs(root, str(bad))
    with pytest.raises(FileNotFoundError, match="nope"):
        vocdata.voc_pairs(root, "nope")


def test_check_labels_counts_values_and_sizes(tmp_path):
    voc = make_synthetic_voc(tmp_path / "voc", n_train=5, n_val=1, size=(40, 48))
    root = voc["root"]
    lab = lambda i: os.path.join(root, "SegmentationClass", voc["train"][i] + ".png")  # noqa: E731
    write_png(lab(0), np.full((40, 48), 22, np.uint8))
    write_png(lab(2), np.full((40, 48), 250, np.uint8))
    write_png(lab(4), np.zeros((48, 40), np.uint8))
    with pytest.raises(ValueError) as e:
        vocdata.check_labels(vocdata.voc_pairs(root, "train"), "train.txt")
    msg = str(e.value)
    assert msg.startswith("train.txt: ") and "2 of 5 labels hold values outside 0..20 and 255" in msg
    assert "22 (1920 px)" in msg and "250 (1920 px)" in msg
    assert "1 of 5 labels differ in size" in msg and "is 40x48 but" in msg and "is 48x40" in msg
    vocdata.check_labels(vocdata.voc_pairs(root, "val"))  # the untouched split passes


# ---- training examples -------------------------------------------------------------------------

def coded(h, w, values, block=6, seed=0):
    """A blocky label of `values` (255 among them) and an image whose gray encodes it."""
    rng = np.random.default_rng(seed)
    small = rng.choice(values, size=(-(-h // block), -(-w // block)))
    label = np.kron(small, np.ones((block, block), np.int64))[:h, :w].astype(np.uint8)
    g = np.where(label == 255, 0.9, label / 40.0)
    return np.repeat(g[..., None], 3, axis=-1), label


def test_example_shapes_values_and_determinism():
    rgb, label = coded(50, 70, [0, 3, 7, 255])
    rgb[..., 0] += 0.05  # not gray, so RGB and gray inputs differ
    ex = vocdata.segmentation_example(rgb, label, np.random.default_rng(3), crop=32)
    assert ex["data"].shape == (1, 32, 32) and ex["label"].shape == (1, 32, 32)
    assert ex["data"].dtype == np.float32 and ex["label"].dtype == np.float32
    again = vocdata.segmentation_example(rgb, label, np.random.default_rng(3), crop=32)
    for k in ex:
        np.testing.assert_array_equal(ex[k], again[k])
    ex3 = vocdata.segmentation_example(rgb, label, np.random.default_rng(3), crop=32, gray=False)
    assert ex3["data"].shape == (3, 32, 32)
    np.testing.assert_allclose(ex3["data"].mean(0), ex["data"][0], atol=1e-6)  # the same window
    assert (ex3["data"][0] > ex3["data"][1]).all()  # channel 0 is R
    with pytest.raises(ValueError, match="48x40"):
        vocdata.segmentation_example(rgb, label[:40, :48], np.random.default_rng(0))


@pytest.mark.parametrize("scale", [(1.0, 1.0), (0.5, 1.7)])
def test_example_labels_hold_only_source_values_and_match_the_image(scale):
    rgb, label = coded(60, 80, [0, 3, 7, 255], block=8)
    agree, mirrored = [], set()
    for s in range(24):
        ex = vocdata.segmentation_example(rgb, label, np.random.default_rng(s), crop=48, scale=scale)
        lab, g = ex["label"][0], ex["data"][0]
        assert set(np.unique(lab).tolist()) <= {0, 3, 7, 255}  # never an interpolated label value
        # image and label stay aligned (mirrored together): the gray decodes to the label
        expect = np.where(lab == 255, 0.9, lab / 40.0)
        inside = np.ones_like(lab, bool)
        if scale != (1.0, 1.0):
            # resampling blurs the image across block edges: judged where the label's 3x3
            # neighbourhood is uniform, off the padding (mean gray, label 255)
            p = np.pad(lab, 1, mode="edge")
            for dy in range(3):
                for dx in range(3):
                    inside &= p[dy:dy + 48, dx:dx + 48] == lab
            inside &= np.abs(g - vocdata.MEAN_GRAY) > 1e-6
        agree.append((np.abs(g - expect) < 1e-3)[inside].mean())
        if scale == (1.0, 1.0):
            # the crop is one of the windows of the label, mirrored or not
            for y in range(60 - 48 + 1):
                for x in range(80 - 48 + 1):
                    win = label[y:y + 48, x:x + 48]
                    if (win == lab).all():
                        mirrored.add(False)
                    if (win[:, ::-1] == lab).all():
                        mirrored.add(True)
    if scale == (1.0, 1.0):
        assert min(agree) == 1.0 and mirrored == {False, True}
    else:
        assert min(agree) > 0.95  # a misaligned or one-sided mirror: about 0.3


def test_example_pads_small_images_with_the_mean_and_255():
    rgb, label = coded(10, 12, [1, 2])
    for s in range(6):
        ex = vocdata.segmentation_example(rgb, label, np.random.default_rng(s), crop=16, mirror=False)
        d, lab = ex["data"][0], ex["label"][0]
        np.testing.assert_allclose(d[:10, :12], color.gray(rgb), atol=1e-6)
        np.testing.assert_array_equal(lab[:10, :12], label)
        assert np.allclose(d[10:], vocdata.MEAN_GRAY) and np.allclose(d[:, 12:], vocdata.MEAN_GRAY)
        assert (lab[10:] == 255).all() and (lab[:, 12:] == 255).all()
    ex = vocdata.segmentation_example(rgb, label, np.random.default_rng(0), crop=16, mirror=False, gray=False)
    np.testing.assert_allclose(ex["data"][:, 12, 14], vocdata.MEAN_RGB, atol=1e-7)
    # mirrored: the image and the padding flip together
    flips = [vocdata.segmentation_example(rgb, label, np.random.default_rng(s), crop=16) for s in range(12)]
    flipped = [e for e in flips if (e["label"][0, :, :4] == 255).all()]
    assert flipped and len(flipped) < 12
    for e in flipped:
        np.testing.assert_array_equal(e["label"][0, :10, 4:], label[:, ::-1])
        np.testing.assert_allclose(e["data"][0, :10, 4:], color.gray(rgb)[:, ::-1], atol=1e-6)


# ---- scoring -----------------------------------------------------------------------------------

def test_confusion_matrix_against_a_hand_computed_case():
    # 4 classes: 0 and 1 in the ground truth, 2 only predicted, 3 absent from both
    label = np.array([[0, 0, 1, 1],
                      [0, 0, 1, 1],
                      [0, 0, 255, 255],
                      [0, 0, 0, 0]])
    pred = np.array([[0, 0, 1, 0],
                     [0, 1, 1, 1],
                     [2, 0, 3, 3],    # the last two are ignored (label 255)
                     [0, 0, 0, 2]])
    cm = seg.ConfusionMatrix(n_classes=4)
    cm.add(pred, label)
    # rows ground truth, columns prediction; 14 pixels scored
    np.testing.assert_array_equal(cm.hist, [[7, 1, 2, 0], [1, 3, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    m = cm.metrics()
    assert m["pixel_accuracy"] == pytest.approx(10 / 14)
    assert m["mean_accuracy"] == pytest.approx((7 / 10 + 3 / 4) / 2)            # classes with ground truth
    iu = [7 / (10 + 8 - 7), 3 / (4 + 4 - 3), 0 / (0 + 2 - 0)]
    np.testing.assert_allclose(m["iu"][:3], iu)
    assert np.isnan(m["iu"][3])
    assert m["mean_iu"] == pytest.approx(sum(iu) / 3) and m["classes_in_mean_iu"] == 3  # class 3 left out
    assert m["mean_iu"] == pytest.approx(0.4121212121)
    assert m["frequency_weighted_iu"] == pytest.approx(10 / 14 * 7 / 11 + 4 / 14 * 3 / 5)
    np.testing.assert_array_equal(m["gt_pixels"], [10, 4, 0, 0])
    np.testing.assert_array_equal(m["predicted_pixels"], [8, 4, 2, 0])
    # a second image adds its counts
    cm.add(np.ones((2, 2), int), np.ones((2, 2), int))
    assert cm.hist[1, 1] == 7 and cm.hist.sum() == 18
    with pytest.raises(ValueError, match="outside 0..3"):
        cm.add(np.zeros((2, 2), int), np.full((2, 2), 4))
    with pytest.raises(ValueError, match="predicted values outside"):
        cm.add(np.full((2, 2), 9), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="2x3"):
        cm.add(np.zeros((3, 2), int), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="no pixel"):
        seg.ConfusionMatrix().metrics()


def test_predictions_round_trip_as_palette_pngs(tmp_path):
    pred = np.random.default_rng(0).integers(0, 21, (17, 23)).astype(np.uint8)
    seg.save_prediction(tmp_path / "sub" / "a.png", pred)
    im = Image.open(tmp_path / "sub" / "a.png")
    assert im.mode == "P" and im.getpalette()[:3 * 21] == vocdata.PALETTE[:21].ravel().tolist()
    np.testing.assert_array_equal(seg.read_prediction(tmp_path / "sub" / "a.png"), pred)
    assert os.listdir(tmp_path / "sub") == ["a.png"]  # no temporary left behind
    write_png(tmp_path / "b.png", np.full((3, 3), 255, np.uint8))
    with pytest.raises(ValueError, match=r"b\.png.*255 \(9 px\)"):
        seg.read_prediction(tmp_path / "b.png")


def test_net_input_pads_with_the_mean_to_a_multiple_of_32():
    rgb = np.random.default_rng(0).random((20, 45, 3))
    x = seg.net_input(rgb, 1)
    assert x.shape == (1, 1, 32, 64) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0, :20, :45], rgb.mean(-1), atol=1e-6)
    assert np.allclose(x[0, 0, 20:], vocdata.MEAN_GRAY) and np.allclose(x[0, 0, :, 45:], vocdata.MEAN_GRAY)
    x3 = seg.net_input(rgb, 3)
    assert x3.shape == (1, 3, 32, 64)
    np.testing.assert_allclose(x3[0, :, :20, :45], rgb.transpose(2, 0, 1), atol=1e-6)
    np.testing.assert_allclose(x3[0, :, 25, 50], vocdata.MEAN_RGB, atol=1e-7)
    assert seg.net_input(np.zeros((64, 32, 3)), 1).shape == (1, 1, 64, 32)


# ---- the command -------------------------------------------------------------------------------

SIZES = [(40, 56), (70, 45), (64, 64), (33, 90)]


@pytest.fixture(scope="module")
def voc(tmp_path_factory):
    return make_synthetic_voc(tmp_path_factory.mktemp("voc") / "VOC2012", n_train=3, n_val=6, size=SIZES, seed=1)


def labels_of(voc, split="val"):
    return {i: vocdata.read_label(os.path.join(voc["root"], "SegmentationClass", i + ".png")) for i in voc[split]}


def evaluate(argv):
    return cli.main(["evaluate-segmentation"] + [str(a) for a in argv])


def test_help_says_options_defaults_example_and_exit_codes(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit) as done:
        cli.main(["evaluate-segmentation", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: pycolorize evaluate-segmentation")
    for needle in ("--prototxt", "--weights", "--predictions DIR", "--voc VOC_ROOT", "--list", "-o OUTPUT, --output OUTPUT",
                   "--gpu ID", "--quiet", "--resume", "(default: score)", "examples:\n  pycolorize evaluate-segmentation",
                   "exit status:", "  130 ", "mean IU", "255"):
        assert needle in text, needle
    assert "(default: None)" not in text and "(default: False)" not in text


def test_script_and_command_reach_the_same_run(monkeypatch):
    module = cli.command_module("evaluate-segmentation")
    calls = []
    monkeypatch.setattr(module, "run", lambda args: calls.append(args) or 7)
    argv = ["--predictions", "p", "--voc", "v", "--list", "val", "-o", "o"]
    assert tool_main("evaluate_segmentation.py")(argv) == 7
    assert cli.main(["evaluate-segmentation"] + argv) == 7
    assert [a.prog for a in calls] == ["evaluate_segmentation.py", "pycolorize evaluate-segmentation"]
    assert calls[0]._root == ROOT and calls[0].output_blob == "score"


def test_usage_errors(voc, tmp_path, capsys):
    base = ["--voc", voc["root"], "--list", "val", "-o", tmp_path / "o"]
    for extra in ([], ["--prototxt", "p", "--predictions", "d"], ["--prototxt", "p"]):
        with pytest.raises(SystemExit) as done:
            evaluate(base + extra)
        assert done.value.code == 2
    capsys.readouterr()


def test_perfect_and_all_background_predictions(voc, tmp_path, capsys):
    labels = labels_of(voc)
    perfect, background = tmp_path / "perfect", tmp_path / "bg"
    for d in (perfect, background):
        d.mkdir()
    for i, lab in labels.items():
        seg.save_prediction(perfect / (i + ".png"), np.where(lab == 255, 0, lab))
        write_png(background / (i + ".png"), np.zeros_like(lab), mode="L")
    out = tmp_path / "out_perfect"
    assert evaluate(["--predictions", perfect, "--voc", voc["root"], "--list", "ImageSets/Segmentation/val.txt",
                     "-o", out, "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    present = sorted({int(v) for lab in labels.values() for v in np.unique(lab)} - {255})
    assert len(present) == 4  # background and the three classes
    assert s["mean_iu"] == 1.0 and s["pixel_accuracy"] == 1.0 and s["mean_accuracy"] == 1.0
    assert s["frequency_weighted_iu"] == pytest.approx(1.0) and s["images"] == 6
    assert s["per_class_iu"] == {c: (1.0 if k in present else None) for k, c in enumerate(vocdata.CLASSES)}
    assert s["scored"]["predictions"] == str(perfect)
    assert not (out / "predictions").exists()
    stdout = capsys.readouterr().out
    assert "mean IU 100.00 %" in stdout and "| pycolorize (this run) | - | 100.0 |" in stdout

    out = tmp_path / "out_bg"
    assert evaluate(["--predictions", background, "--voc", voc["root"], "--list", "val", "-o", out]) == 0
    # by hand: every scored pixel predicted background
    n = {k: sum(int((lab == k).sum()) for lab in labels.values()) for k in present}
    total = sum(n.values())
    s = json.loads((out / "summary.json").read_text())
    assert s["pixel_accuracy"] == pytest.approx(n[0] / total)
    assert s["mean_accuracy"] == pytest.approx(1 / 4)                    # 1 for background, 0 for 3 classes
    assert s["mean_iu"] == pytest.approx((n[0] / total) / 4)             # IU_bg = n0 / total, the others 0
    assert s["frequency_weighted_iu"] == pytest.approx((n[0] / total) ** 2)
    assert s["per_class_iu"]["background"] == pytest.approx(n[0] / total)
    assert s["per_class_iu"]["aeroplane"] == 0.0 and s["per_class_iu"]["bicycle"] is None
    with open(out / "per_class.csv", newline="") as f:
        rows = {r["class"]: r for r in csv.DictReader(f)}
    assert list(rows) == list(vocdata.CLASSES)
    assert int(rows["background"]["gt_pixels"]) == n[0] and int(rows["background"]["predicted_pixels"]) == total
    assert int(rows["person"]["gt_pixels"]) == n[15] and rows["person"]["iu"] == "0.0"
    assert rows["bicycle"]["iu"] == "" and rows["bicycle"]["accuracy"] == ""
    table = (out / "table.md").read_text()
    assert "| Method | Input | mIU (%) | background | aeroplane |" in table
    assert f"| pycolorize (this run) | - | {100 * s['mean_iu']:.1f} | {100 * n[0] / total:.1f} | 0.0 | - |" in table
    capsys.readouterr()


def test_missing_predictions_and_malformed_voc_are_one_counted_line(voc, tmp_path, capsys):
    preds = tmp_path / "preds"
    preds.mkdir()
    labels = labels_of(voc)
    for i in voc["val"][:4]:
        write_png(preds / (i + ".png"), np.zeros_like(labels[i]))
    assert evaluate(["--predictions", preds, "--voc", voc["root"], "--list", "val", "-o", tmp_path / "o"]) == 1
    err = one_line(capsys.readouterr().err, "pycolorize evaluate-segmentation: ")
    assert "2 of 6 predictions are missing" in err and voc["val"][4] + ".png" in err
    # a prediction of the wrong size
    for i in voc["val"][4:]:
        write_png(preds / (i + ".png"), np.zeros((5, 5), np.uint8))
    assert evaluate(["--predictions", preds, "--voc", voc["root"], "--list", "val", "-o", tmp_path / "o2"]) == 1
    err = one_line(capsys.readouterr().err, "pycolorize evaluate-segmentation: ")
    assert "5x5" in err and voc["val"][4] in err
    # a malformed copy of the VOC folder: a missing label, out-of-range values, a size mismatch
    bad = make_synthetic_voc(tmp_path / "bad", n_train=0, n_val=6, size=SIZES, seed=1)
    sc = os.path.join(bad["root"], "SegmentationClass")
    os.remove(os.path.join(sc, bad["val"][0] + ".png"))
    assert evaluate(["--predictions", preds, "--voc", bad["root"], "--list", "val", "-o", tmp_path / "o3"]) == 1
    err = one_line(capsys.readouterr().err, "pycolorize evaluate-segmentation: ")
    assert "1 of 6 images have no label PNG" in err and f"{bad['val'][0]}.png (line 1)" in err
    write_png(os.path.join(sc, bad["val"][0] + ".png"), np.full(SIZES[3], 30, np.uint8))  # wrong size too
    lab = vocdata.read_label(os.path.join(sc, bad["val"][1] + ".png")).copy()
    lab[:2, :3] = 21
    write_png(os.path.join(sc, bad["val"][1] + ".png"), lab)
    assert evaluate(["--predictions", preds, "--voc", bad["root"], "--list", "val", "-o", tmp_path / "o4"]) == 1
    err = one_line(capsys.readouterr().err, "pycolorize evaluate-segmentation: ")
    assert "2 of 6 labels hold values outside 0..20 and 255" in err and "21 (6 px)" in err and "30 (" in err
    assert "1 of 6 labels differ in size" in err and "90x33" in err and "56x40" in err
    assert not os.path.exists(tmp_path / "o4" / "summary.json")


TINY = """name: "tiny_seg"
layer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ dim: 1 dim: {c} dim: 32 dim: 32 }} }} }}
layer {{ name: "score" type: "Convolution" bottom: "data" top: "score"
  convolution_param {{ num_output: 21 kernel_size: 1 }} }}
"""


T15 = 307 / 1530


def tiny_net(tmp_path, channels):
    """A 1x1 convolution whose argmax is known: class 1 where the input (gray, or R for an RGB
    net) is above 0.5, class 15 where it is below T15 (about 0.2), background between; other classes
    never. Both thresholds lie halfway between two values a gray (k / 765) or a channel (k / 255) of
    an 8-bit image can take, so no pixel is a tie."""
    proto = tmp_path / f"tiny{channels}.prototxt"
    proto.write_text(TINY.format(c=channels))
    net = pycolorize.Net(str(proto))
    w, b = net.params["score"][0].data, net.params["score"][1].data
    w[...] = 0
    b[...] = -100
    b[0] = 0
    w[1, 0], b[1] = 10, -5        # 10 x - 5 > 0 where x > 0.5
    w[15, 0], b[15] = -10, 10 * T15   # 10 (T15 - x) > 0 where x < T15
    weights = tmp_path / f"tiny{channels}.caffemodel.h5"
    net.save(str(weights))
    return proto, weights


def expected_prediction(rgb, channels):
    x = rgb.mean(-1) if channels == 1 else rgb[..., 0]
    return np.where(x > 0.5, 1, np.where(x < T15, 15, 0)).astype(np.uint8)


@pytest.mark.parametrize("channels", [1, 3])
def test_net_path_end_to_end(voc, tmp_path, channels, capsys):
    proto, weights = tiny_net(tmp_path, channels)
    out = tmp_path / "out"
    assert evaluate(["--prototxt", proto, "--weights", weights, "--voc", voc["root"], "--list", "val", "-o", out]) == 0
    cm = seg.ConfusionMatrix()
    for i, image, label in vocdata.voc_pairs(voc["root"], "val"):
        rgb, lab = vocdata.read_pair(image, label)
        want = expected_prediction(rgb, channels)
        got = seg.read_prediction(out / "predictions" / (i + ".png"))
        assert Image.open(out / "predictions" / (i + ".png")).mode == "P"
        np.testing.assert_array_equal(got, want, err_msg=i)   # the crop of the padded scores, not shifted
        cm.add(want, lab)
    m = cm.metrics()
    s = json.loads((out / "summary.json").read_text())
    predicted = cm.hist.sum(0)
    assert predicted[0] > 0 and predicted[1] > 0 and predicted[15] > 0 and s["images"] == 6  # all three rules hit
    assert s["mean_iu"] == pytest.approx(m["mean_iu"]) and s["pixel_accuracy"] == pytest.approx(m["pixel_accuracy"])
    assert s["scored"]["weights"] == str(weights) and s["scored"]["output_blob"] == "score"
    assert s["scored"]["input"].startswith("gray" if channels == 1 else "RGB")
    assert f"| pycolorize (this run) | {'gray' if channels == 1 else 'RGB'} |" in (out / "table.md").read_text()
    capsys.readouterr()


def test_net_without_the_output_blob_is_one_line(voc, tmp_path, capsys):
    proto, weights = tiny_net(tmp_path, 1)
    assert evaluate(["--prototxt", proto, "--weights", weights, "--voc", voc["root"], "--list", "val",
                     "-o", tmp_path / "o", "--output-blob", "prob"]) == 1
    err = one_line(capsys.readouterr().err, "pycolorize evaluate-segmentation: ")
    assert "'prob'" in err and "score" in err


def test_interrupted_run_resumes_to_the_same_summary(voc, tmp_path, monkeypatch, capsys):
    proto, weights = tiny_net(tmp_path, 1)
    args = ["--prototxt", proto, "--weights", weights, "--voc", voc["root"], "--list", "val", "--quiet"]
    assert evaluate(args + ["-o", tmp_path / "whole"]) == 0
    whole = json.loads((tmp_path / "whole" / "summary.json").read_text())

    real, calls = vocdata.read_pair, []

    def interrupting(*a, **kw):
        calls.append(a)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*a, **kw)

    out = tmp_path / "cut"
    monkeypatch.setattr(vocdata, "read_pair", interrupting)
    assert evaluate(args + ["-o", out]) == 130
    assert "3 of 6 image(s) scored" in capsys.readouterr().err
    monkeypatch.setattr(vocdata, "read_pair", real)
    with np.load(out / "partial.npz") as z:
        assert list(z["done"]) == voc["val"][:3] and z["hist"].sum() > 0
    assert not (out / "summary.json").exists() and len(os.listdir(out / "predictions")) == 3
    # not without --resume; not over another list or other weights
    assert evaluate(args + ["-o", out]) == 1
    assert "--resume" in one_line(capsys.readouterr().err, "pycolorize evaluate-segmentation: ")
    other = tmp_path / "other.txt"
    other.write_text("".join(i + "\n" for i in voc["val"][:5]))
    assert evaluate(["--prototxt", proto, "--weights", weights, "--voc", voc["root"], "--list", other, "--quiet",
                     "-o", out, "--resume"]) == 1
    err = one_line(capsys.readouterr().err, "pycolorize evaluate-segmentation: ")
    assert "refusing to resume" in err and "other list" in err and "other.txt" in err
    net = pycolorize.Net(str(proto), weights=str(weights))
    net.params["score"][1].data[0] = 1
    kept = weights.read_bytes()
    net.save(str(weights))  # the same file name, other weights
    assert evaluate(args + ["-o", out, "--resume"]) == 1
    err = one_line(capsys.readouterr().err, "pycolorize evaluate-segmentation: ")
    assert "refusing to resume" in err and "weights of other contents" in err
    weights.write_bytes(kept)
    # resumed: only the rest is run, and the result is the uninterrupted one
    calls.clear()
    monkeypatch.setattr(vocdata, "read_pair", interrupting)
    assert evaluate(args + ["-o", out, "--resume"]) == 0
    assert len(calls) == 3
    assert "resuming: 3 of 6" in capsys.readouterr().err
    resumed = json.loads((out / "summary.json").read_text())
    assert resumed == whole and resumed["images"] == 6
    assert sorted(os.listdir(out / "predictions")) == sorted(os.listdir(tmp_path / "whole" / "predictions"))


def test_voc_source_holds_out_a_fixed_part_and_feeds_the_loader(tmp_path):
    from pycolorize import data
    from pycolorize.data.sources import open_source

    voc = make_synthetic_voc(tmp_path / "voc", n_train=10, n_val=2, size=(40, 48), seed=3)
    spec = {"type": "voc", "path": str(tmp_path / "voc"), "list": "train", "holdout": 3, "holdout_seed": 7}
    a, b = open_source(spec), open_source(dict(spec))
    assert a.held_out == b.held_out and len(a.held_out) == 3 and len(a) == 7
    assert sorted(a.names + a.held_out) == sorted(voc["train"])  # VOC's id list: the held-out lines are ids
    assert open_source({**spec, "holdout_seed": 8}).held_out != a.held_out
    rgb, label = a.read(0)
    assert rgb.shape == (40, 48, 3) and label.shape == (40, 48)
    with data.Loader(a, batch=2, example=vocdata.segmentation_example, crop=64, workers=1, seed=1) as loader:
        batch = next(iter(loader))
    assert batch["data"].shape == (2, 1, 64, 64) and batch["label"].shape == (2, 1, 64, 64)
    assert (batch["label"][:, :, 40:] == vocdata.IGNORE).all()  # padded below with the ignore label
    # a held-out list reads back as the same images, for VOC's id lists and SBD's pair lists alike
    import shutil

    shutil.copytree(tmp_path / "voc" / "SegmentationClass", tmp_path / "voc" / "SegmentationClassAug")  # SBD's folder
    lines = tmp_path / "voc" / "pairs.txt"
    lines.write_text("".join(f"/JPEGImages/{i}.jpg /SegmentationClassAug/{i}.png\n" for i in voc["train"]))
    for list_file in ("train", str(lines)):
        src = open_source({**spec, "list": list_file})
        (tmp_path / "held.txt").write_text("".join(line + "\n" for line in src.held_out))
        assert [p[0] for p in vocdata.voc_pairs(tmp_path / "voc", str(tmp_path / "held.txt"))] == \
            [line.split()[0].rsplit("/", 1)[-1].split(".")[0] for line in src.held_out]
    assert src.held_out[0].startswith("/JPEGImages/") and " /SegmentationClassAug/" in src.held_out[0]
    with pytest.raises(ValueError, match="holdout must be between 1 and 9"):
        open_source({**spec, "holdout": 10})
    with pytest.raises(ValueError, match="holdout' must be a whole number"):
        open_source({**spec, "holdout": -1})


def test_training_pairs_nets_with_their_sources(tmp_path):
    from pycolorize import models
    from pycolorize.training.loop import train

    make_synthetic_voc(tmp_path / "voc", n_train=4, n_val=1, size=(64, 64))
    mini = {"conv": (3, 3, 4, 4, 4), "fc": 4, "h_fc1": 5}
    (tmp_path / "seg.prototxt").write_text(models.segmentation_net(mini, batch=2, crop=64))
    (tmp_path / "col.prototxt").write_text(models.train_net("hue_chroma", mini, batch=2, crop=48, samples=4))
    for net in ("seg", "col"):
        (tmp_path / f"{net}_solver.prototxt").write_text(models.solver_text(str(tmp_path / f"{net}.prototxt"), max_iter=1,
                                                                            steps=(), prefix=str(tmp_path / net)))
    (tmp_path / "voc.yaml").write_text(f"source: {{type: voc, path: {tmp_path / 'voc'}}}\n")
    (tmp_path / "photos.yaml").write_text(f"source: {{type: folder, path: {tmp_path / 'voc' / 'JPEGImages'}}}\n")
    with pytest.raises(ValueError, match="segmentation net: its data config needs a source of images and labels"):
        train(str(tmp_path / "seg_solver.prototxt"), str(tmp_path / "photos.yaml"), progress=False)
    with pytest.raises(ValueError, match="is a colorization net; a voc source is for segmentation nets"):
        train(str(tmp_path / "col_solver.prototxt"), str(tmp_path / "voc.yaml"), progress=False)
    with pytest.raises(ValueError, match="scale_min and scale_max"):
        train(str(tmp_path / "seg_solver.prototxt"), {"source": {"type": "voc", "path": str(tmp_path / "voc")},
                                                       "scale_min": 2.0, "scale_max": 1.0}, progress=False)
    solver = train(str(tmp_path / "seg_solver.prototxt"), str(tmp_path / "voc.yaml"), progress=False)
    assert solver.iter == 1


# ---- exact messages, defaults and edge cases of the scoring helpers -----------------------------

class _FakeBlob:
    def __init__(self, shape):
        self.shape = shape


class _FakeNet:
    """What predict() touches of a net: .blobs (names -> .shape), .inputs, .outputs, .forward (recorded)."""

    def __init__(self, blobs, inputs=(), outputs=(), scores=None):
        self.blobs = {n: _FakeBlob(s) for n, s in blobs.items()}
        self.inputs, self.outputs = list(inputs), list(outputs)
        self.scores, self.calls = scores, []

    def forward(self, **kw):
        self.calls.append(kw)
        return dict(self.scores)


def _scores(n_classes, h, w, winner):
    """(1, n_classes, h, w) scores whose argmax is the class map `winner` (h, w)."""
    s = np.zeros((1, n_classes, h, w), np.float32)
    for k in range(n_classes):
        s[0, k][winner == k] = 1.0
    return s


def test_net_input_defaults_to_gray_and_names_unsupported_channels():
    rgb = np.random.default_rng(1).random((20, 45, 3))
    x = seg.net_input(rgb)
    assert x.shape == (1, 1, 32, 64) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0, :20, :45], rgb.mean(-1), atol=1e-6)
    for c in (2, 4, 0):
        with pytest.raises(ValueError) as e:
            seg.net_input(rgb, c)
        assert str(e.value) == f"the net's input has {c} channels; 1 (gray) or 3 (RGB) are supported"


def test_net_input_image_part_does_not_depend_on_padding():
    # the image is read as float64 whether or not it needs padding: a long double value that
    # float32 and float64-then-float32 round differently gives the same input either way
    if np.finfo(np.longdouble).nmant <= np.finfo(np.float64).nmant:
        pytest.skip("long double is no wider than float64 here")
    v = np.longdouble(0.5) + np.longdouble(2.0) ** -25 + np.longdouble(2.0) ** -60
    assert np.float32(v) != np.float32(np.float64(v))  # the case is a real one
    rgb = np.full((32, 32, 3), v, np.longdouble)
    whole = seg.net_input(rgb, 3)                 # 32 x 32: no padding
    cut = seg.net_input(rgb[:31], 3)              # 31 x 32: padded
    assert whole.shape == cut.shape == (1, 3, 32, 32)
    np.testing.assert_array_equal(whole[..., :31, :], cut[..., :31, :])
    assert (whole == np.float32(np.float64(v))).all()


def test_predict_defaults_forward_call_crop_and_dtype():
    rng = np.random.default_rng(2)
    rgb = rng.random((20, 30, 3))
    winner = rng.integers(0, 21, (32, 32))
    net = _FakeNet({"data": (1, 1, 32, 32), "score": (1, 21, 32, 32)}, ["data"], ["score"],
                   {"score": _scores(21, 32, 32, winner)})
    got = seg.predict(net, rgb)
    assert got.dtype == np.uint8 and got.shape == (20, 30)
    np.testing.assert_array_equal(got, winner[:20, :30])
    assert len(net.calls) == 1 and sorted(net.calls[0]) == ["blobs", "data"]
    assert net.calls[0]["blobs"] == ["score"]
    np.testing.assert_array_equal(net.calls[0]["data"], seg.net_input(rgb, 1))
    # other names: the blobs asked for by name, the input passed under its own name
    net = _FakeNet({"img": (1, 3, 32, 32), "fc8": (1, 4, 32, 32)}, ["img"], ["prob"],
                   {"prob": np.zeros((1, 4, 32, 32)), "fc8": _scores(4, 32, 32, winner % 4)})
    got = seg.predict(net, rgb, output_blob="fc8", input_blob="img", n_classes=4)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, (winner % 4)[:20, :30])
    assert sorted(net.calls[0]) == ["blobs", "img"] and net.calls[0]["blobs"] == ["fc8"]
    np.testing.assert_array_equal(net.calls[0]["img"], seg.net_input(rgb, 3))
    # NaN in the padding is cropped away before the check
    s = _scores(21, 32, 32, winner)
    s[0, :, 25:, :] = np.nan
    net = _FakeNet({"data": (1, 1, 32, 32), "score": (1, 21, 32, 32)}, ["data"], ["score"], {"score": s})
    np.testing.assert_array_equal(seg.predict(net, rgb), winner[:20, :30])


def test_predict_on_a_real_net_reads_a_blob_that_is_not_an_output(tmp_path):
    # "score" feeds a Softmax: the net's only output is "prob", and predict must ask for "score"
    text = TINY.format(c=1) + ('layer { name: "prob" type: "Softmax" bottom: "score" top: "prob" }\n')
    net = pycolorize.Net.from_string(text, phase="test")
    assert net.outputs == ["prob"]
    w, b = net.params["score"][0].data, net.params["score"][1].data
    w[...] = 0
    b[...] = -100
    b[0] = 0
    w[1, 0], b[1] = 10, -5
    w[15, 0], b[15] = -10, 10 * T15
    rgb = np.zeros((20, 25, 3))
    rgb[:, :8] = 0.9
    rgb[:, 8:16] = 0.05
    rgb[:, 16:] = 0.35
    got = seg.predict(net, rgb)
    assert got.dtype == np.uint8
    want = np.zeros((20, 25), np.uint8)
    want[:, :8], want[:, 8:16] = 1, 15
    np.testing.assert_array_equal(got, want)


def test_predict_error_messages():
    rgb = np.random.default_rng(3).random((20, 30, 3))
    cases = [
        (_FakeNet({"score": (1, 21, 32, 32)}, ["img", "aux"], ["score"]), {},
         "the net has no input blob 'data' (inputs: img, aux)"),
        (_FakeNet({"score": (1, 21, 32, 32)}, [], ["score"]), {},
         "the net has no input blob 'data' (inputs: none)"),
        (_FakeNet({"data": (1, 1, 32, 32)}, ["data"], ["prob", "loss"]), {},
         "the net has no blob 'score' (outputs: prob, loss)"),
        (_FakeNet({"data": (1, 1, 32, 32)}, ["data"], []), {},
         "the net has no blob 'score' (outputs: none)"),
        (_FakeNet({"data": (1, 1, 32, 32), "score": (1, 21, 32, 32)}, ["data"], ["score"]), {"output_blob": "fc8"},
         "the net has no blob 'fc8' (outputs: score)"),
        (_FakeNet({"data": (1, 1, 32, 32), "score": (1, 21, 32, 32)}, ["data"], ["score"]), {"input_blob": "img"},
         "the net has no input blob 'img' (inputs: data)"),
        (_FakeNet({"data": (1, 32, 32), "score": (1, 21, 32, 32)}, ["data"], ["score"]), {},
         "the net's input blob 'data' has shape (1, 32, 32); expected (1, C, H, W)"),
        (_FakeNet({"data": (1, 1, 32, 32), "score": (1, 21, 32, 32)}, ["data"], ["score"],
                  {"score": np.zeros((1, 20, 32, 32))}), {},
         "the net's 'score' is (1, 20, 32, 32) for a (1, 1, 32, 32) input; expected (1, 21, 32, 32): "
         "21 class scores at the input's resolution"),
        (_FakeNet({"data": (1, 3, 32, 32), "score": (1, 21, 32, 32)}, ["data"], ["score"],
                  {"score": np.zeros((1, 21, 16, 16))}), {"n_classes": 5},
         "the net's 'score' is (1, 21, 16, 16) for a (1, 3, 32, 32) input; expected (1, 5, 32, 32): "
         "5 class scores at the input's resolution"),
    ]
    for net, kw, message in cases:
        with pytest.raises(ValueError) as e:
            seg.predict(net, rgb, **kw)
        assert str(e.value) == message
    for bad in (np.nan, np.inf, -np.inf):
        s = np.zeros((1, 21, 32, 32))
        s[0, 3, 19, 29] = bad
        net = _FakeNet({"data": (1, 1, 32, 32), "score": (1, 21, 32, 32)}, ["data"], ["score"], {"score": s})
        with pytest.raises(ValueError) as e:
            seg.predict(net, rgb)
        assert str(e.value) == "the net's 'score' holds NaN or infinite scores"


def test_confusion_matrix_counts_are_int64_and_ignore_none_counts_every_pixel():
    cm = seg.ConfusionMatrix(n_classes=3)
    assert cm.hist.dtype == np.int64 and cm.hist.shape == (3, 3) and not cm.hist.any()
    assert seg.ConfusionMatrix().hist.shape == (21, 21) and seg.ConfusionMatrix().hist.dtype == np.int64
    label = np.array([[0, 1, 2], [2, 2, 255]])
    pred = np.array([[0, 2, 2], [1, 2, 0]], np.uint8)
    c = cm.add(pred, label)
    np.testing.assert_array_equal(c, [[1, 0, 0], [0, 0, 1], [0, 1, 2]])
    assert cm.hist.dtype == np.int64
    np.testing.assert_array_equal(cm.hist, c)
    m = cm.metrics()
    assert m["gt_pixels"].dtype == np.int64 and m["predicted_pixels"].dtype == np.int64
    np.testing.assert_array_equal(m["gt_pixels"], [1, 1, 3])
    np.testing.assert_array_equal(m["predicted_pixels"], [1, 1, 3])
    # ignore=None: every pixel counts, and 255 is then an out-of-range label
    every = seg.ConfusionMatrix(n_classes=3, ignore=None)
    label = np.array([[0, 1, 2], [2, 2, 1]])
    c = every.add(pred, label)
    np.testing.assert_array_equal(c, [[1, 0, 0], [1, 0, 1], [0, 1, 2]])
    assert c.sum() == 6 and every.hist.sum() == 6 and every.hist.dtype == np.int64
    np.testing.assert_array_equal(every.counts(np.zeros((1, 1), int), np.ones((1, 1), int)), [[0, 0, 0], [1, 0, 0],
                                                                                               [0, 0, 0]])
    with pytest.raises(ValueError) as e:
        every.add(pred, np.array([[0, 1, 2], [2, 2, 255]]))
    assert str(e.value) == "label values outside 0..2 and None: [255]"


def test_confusion_matrix_error_messages_list_the_first_ten_values():
    cm = seg.ConfusionMatrix(n_classes=3)
    label = np.array([[3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14]])    # 12 bad values
    with pytest.raises(ValueError) as e:
        cm.add(np.zeros((2, 6), int), label)
    assert str(e.value) == "label values outside 0..2 and 255: [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]"
    with pytest.raises(ValueError) as e:
        cm.add(np.zeros((1, 2), int), np.array([[-1, 2]]))
    assert str(e.value) == "label values outside 0..2 and 255: [-1]"
    with pytest.raises(ValueError) as e:
        cm.add(label + 1, np.zeros((2, 6), int))
    assert str(e.value) == "predicted values outside 0..2: [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]"
    # exactly n_classes is out of range, for every label row
    for row in range(3):
        with pytest.raises(ValueError) as e:
            cm.add(np.array([[3, 0]]), np.array([[row, 0]]))
        assert str(e.value) == "predicted values outside 0..2: [3]"
    with pytest.raises(ValueError) as e:
        cm.add(np.array([[-2, 3, 1]]), np.array([[0, 0, 0]]))
    assert str(e.value) == "predicted values outside 0..2: [-2, 3]"
    # a prediction under an ignored label is not judged
    cm.add(np.array([[3, 0]]), np.array([[255, 0]]))
    np.testing.assert_array_equal(cm.hist, [[1, 0, 0], [0, 0, 0], [0, 0, 0]])
    with pytest.raises(ValueError) as e:
        seg.ConfusionMatrix().metrics()
    assert str(e.value) == "no pixel was scored (every label pixel is ignored, or nothing was added)"


def test_confusion_metrics_with_absent_classes_warn_nothing():
    import warnings

    cm = seg.ConfusionMatrix(n_classes=4)
    cm.add(np.array([[0, 1, 1, 2]]), np.array([[0, 1, 0, 0]]))   # class 3 absent from both, 2 only predicted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = cm.metrics()
    assert np.isnan(m["iu"][3]) and np.isnan(m["accuracy"][2]) and np.isnan(m["accuracy"][3])
    np.testing.assert_allclose(m["iu"][:3], [1 / 3, 1 / 2, 0])
    assert m["mean_iu"] == pytest.approx((1 / 3 + 1 / 2) / 3) and m["classes_in_mean_iu"] == 3


def test_save_prediction_range_shape_and_format(tmp_path):
    edge = np.array([[0, 255], [7, 20]], np.int64)
    seg.save_prediction(str(tmp_path / "edge.png"), edge)       # 255 is a byte: allowed
    with Image.open(tmp_path / "edge.png") as im:
        assert im.format == "PNG" and im.mode == "P"
        np.testing.assert_array_equal(np.array(im), edge)
    # no extension: still a PNG
    seg.save_prediction(str(tmp_path / "noext"), edge)
    with Image.open(tmp_path / "noext") as im:
        assert im.format == "PNG" and im.mode == "P"
        np.testing.assert_array_equal(np.array(im), edge)
    seg.save_prediction(str(tmp_path / "pred.dat"), edge)
    with Image.open(tmp_path / "pred.dat") as im:
        assert im.format == "PNG"
    for bad in (np.array([[0, 256]]), np.array([[-1, 3]]), np.array([[-1, 300]])):
        p = str(tmp_path / "bad.png")
        with pytest.raises(ValueError) as e:
            seg.save_prediction(p, bad)
        assert str(e.value) == f"{p}: a prediction must be an (H, W) array of class indices; got shape (1, 2)"
        assert not os.path.exists(p)
    for shape in ((2, 2, 3), (4,), (1, 2, 2)):
        p = str(tmp_path / "shape.png")
        with pytest.raises(ValueError) as e:
            seg.save_prediction(p, np.ones(shape, np.uint8))
        assert str(e.value) == f"{p}: a prediction must be an (H, W) array of class indices; got shape {shape}"
        assert not os.path.exists(p)


def test_read_prediction_messages(tmp_path):
    a = np.array([[0, 21, 21], [255, 3, 3]], np.uint8)
    p = str(tmp_path / "p.png")
    write_png(p, a)
    with pytest.raises(ValueError) as e:
        seg.read_prediction(p)
    assert str(e.value) == f"{p}: predicted values outside 0..20: 21 (2 px), 255 (1 px)"
    with pytest.raises(ValueError) as e:
        seg.read_prediction(p, n_classes=3)
    assert str(e.value) == f"{p}: predicted values outside 0..2: 3 (2 px), 21 (2 px), 255 (1 px)"
    ok = str(tmp_path / "ok.png")
    write_png(ok, np.array([[0, 3], [3, 1]], np.uint8), mode="L")
    np.testing.assert_array_equal(seg.read_prediction(ok, n_classes=4), [[0, 3], [3, 1]])
    rgb = str(tmp_path / "rgb.png")
    Image.fromarray(np.zeros((2, 3, 3), np.uint8)).save(rgb)
    with pytest.raises(ValueError) as e:
        seg.read_prediction(rgb)
    assert str(e.value) == (f"{rgb}: a RGB image; predictions are palette (P) or 8-bit gray (L) PNGs of class "
                            "indices (an RGB rendering of the colours cannot be read back as classes)")


def test_format_table_exact_markdown():
    m = {"mean_iu": 0.5, "iu": np.array([0.25, np.nan, 0.7512])}
    want = ("| Method | Input | mIU (%) | a | b | c |\n"
            "|---|---|---:|---:|---:|---:|\n"
            "| pycolorize (this run) | gray | 50.0 | 25.0 | - | 75.1 |")
    assert seg.format_table(m, classes=("a", "b", "c")) == want
    want = ("| Method | Input | mIU (%) | x |\n"
            "|---|---|---:|---:|\n"
            "| ours | RGB | - | 100.0 |")
    assert seg.format_table({"mean_iu": float("nan"), "iu": [1.0]}, method="ours", input_kind="RGB",
                            classes=["x"]) == want
