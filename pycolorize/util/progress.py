"""Progress for long work (training, evaluation): a redrawn tqdm bar on a terminal, and a plain line
every `every` seconds otherwise, so that a log file or a batch job's output gets readable lines
instead of carriage-return redraws.

    with progress(total=900, initial=0, unit="it", desc="train") as bar:
        bar.update(1, loss="1.98")     # also: bar.write("snapshot: ...")
"""
import sys
import time


class _Display:
    """What both forms share: closing, and use as a context manager."""

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Lines(_Display):
    """The non-terminal form: `desc: n/total unit (p %), rate unit/s, ETA, k=v ...` every `every` s."""

    def __init__(self, total, initial, unit, desc, file, every):
        self.total, self.n, self.unit, self.desc, self.file, self.every = total, initial, unit, desc, file, every
        self.start_n, self.start = initial, time.perf_counter()
        self.last = self.start
        self.postfix = {}

    def update(self, n=1, **postfix):
        self.n += n
        self.postfix.update(postfix)
        now = time.perf_counter()
        if now - self.last >= self.every or (self.total and self.n >= self.total):
            self.last = now
            self.file.write(self._line(now) + "\n")
            self.file.flush()

    def _line(self, now):
        rate = (self.n - self.start_n) / max(now - self.start, 1e-9)
        parts = [f"{self.desc}: {self.n}" + (f"/{self.total}" if self.total else "") + f" {self.unit}"]
        if self.total:
            parts.append(f"{100 * self.n / self.total:.0f} %")
        parts.append(f"{rate:.2f} {self.unit}/s")
        if self.total and rate > 0 and self.n < self.total:
            parts.append(f"ETA {_duration((self.total - self.n) / rate)}")
        parts += [f"{k}={v}" for k, v in self.postfix.items()]
        return ", ".join(parts)

    def write(self, text):
        self.file.write(text + "\n")
        self.file.flush()


class _Bar(_Display):
    """The terminal form: tqdm, with the same update(n, **postfix) and write(text)."""

    def __init__(self, total, initial, unit, desc, file):
        from tqdm import tqdm

        self._bar = tqdm(total=total, initial=initial, unit=unit, desc=desc, file=file, dynamic_ncols=True,
                         mininterval=2.0)

    def update(self, n=1, **postfix):
        if postfix:
            self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(n)

    def write(self, text):
        self._bar.write(text)

    def close(self):
        self._bar.close()


def _duration(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def progress(total=None, initial=0, unit="it", desc="progress", file=None, every=30.0):
    """A progress display for `total` steps (None: unknown), starting at `initial`: a bar when
    `file` (default stderr) is a terminal, else a line every `every` seconds and at the end. It has
    update(n, **postfix), write(text) and close(), and is a context manager."""
    file = file if file is not None else sys.stderr
    if hasattr(file, "isatty") and file.isatty():
        return _Bar(total, initial, unit, desc, file)
    return _Lines(total, initial, unit, desc, file, every)
