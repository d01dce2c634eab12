"""pycolorize.util.progress: a bar on a terminal, plain periodic lines elsewhere (no carriage returns)."""
import io

from pycolorize.util.progress import progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_lines_when_not_a_terminal():
    out = io.StringIO()
    with progress(total=4, unit="it", desc="train", file=out, every=0) as bar:
        for i in range(4):
            bar.update(1, loss=f"{1.0 / (i + 1):.2f}")
        bar.write("snapshot: a.h5")
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0].startswith("train: 1/4 it, 25 %, ") and lines[0].endswith("loss=1.00")
    assert lines[3].startswith("train: 4/4 it, 100 %, ") and "ETA" not in lines[3] and lines[3].endswith("loss=0.25")
    assert lines[4] == "snapshot: a.h5"


def test_lines_are_periodic_and_the_last_step_is_always_shown():
    out = io.StringIO()
    bar = progress(total=1000, initial=10, file=out, every=3600)
    for _ in range(990):
        bar.update(1)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("progress: 1000/1000 it, 100 %")


def test_a_bar_on_a_terminal():
    out = Terminal()
    with progress(total=3, file=out) as bar:
        for _ in range(3):
            bar.update(1, loss="0.5")
    assert "\r" in out.getvalue() and "3/3" in out.getvalue()
