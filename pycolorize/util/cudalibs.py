"""One copy of each CUDA library per process, whoever loads first.

pycolorize's CUDA build needs the CUDA runtime, cuBLAS and cuDNN; PyTorch's CUDA wheel brings the
same libraries as the nvidia-* wheels (site-packages/nvidia/*/lib). A process gets one copy of each
library name, the first one loaded: if pycolorize loaded the CUDA toolkit's older copy first,
PyTorch would then run on it and could miss symbols it needs. So, before the extension loads, the
libraries it needs are loaded from the nvidia-* wheels where those are installed (the copies
PyTorch uses), and only otherwise found through the extension's RUNPATH (the toolkit's). NCCL is
not loaded at all until the NCCL backend is used (csrc/parallel/nccl_api.h), and then a copy
already in the process is used first, then the wheel's (nccl_folders).

loaded() says which file of each CUDA library this process has (pycolorize.show_config prints it).
"""
import ctypes
import glob
import importlib.util
import mmap
import os
import struct

# the libraries this module concerns itself with, by the start of their file names
CUDA_LIBRARIES = ("libcudart", "libcublasLt", "libcublas", "libcudnn", "libnccl")


def needed_libraries(path):
    """The DT_NEEDED entries (library names) of an ELF shared object, in order; [] for a file that
    is not a 64-bit little-endian ELF object."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        if m[:6] != b"\x7fELF\x02\x01":
            return []
        shoff, = struct.unpack_from("<Q", m, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", m, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", m, shoff + i * shentsize) for i in range(shnum)]
        out = []
        for _, kind, _, _, offset, size, link, _, _, _ in sections:
            if kind != 6:  # SHT_DYNAMIC
                continue
            strtab = sections[link][4]
            for pos in range(offset, offset + size, 16):
                tag, value = struct.unpack_from("<qQ", m, pos)
                if tag == 0:  # DT_NULL
                    break
                if tag == 1:  # DT_NEEDED
                    end = m.find(b"\0", strtab + value)
                    out.append(m[strtab + value:end].decode())
        return out


def wheel_folders():
    """The lib/ folders of the installed nvidia-* wheels (PyTorch's CUDA libraries), if any."""
    spec = importlib.util.find_spec("nvidia")
    if spec is None or not spec.submodule_search_locations:
        return []
    return sorted(d for base in spec.submodule_search_locations for d in glob.glob(os.path.join(base, "*", "lib"))
                  if os.path.isdir(d))


def nccl_folders():
    """The wheel folders that hold libnccl.so.2 (where the NCCL backend looks first)."""
    return [d for d in wheel_folders() if os.path.exists(os.path.join(d, "libnccl.so.2"))]


OPT_OUT = "PYCOLORIZE_WHEEL_CUDA"  # =0: leave every CUDA library to the extension's RUNPATH (the build's)


def preload_for(extension):
    """Load, from the nvidia-* wheels, the CUDA libraries `extension` needs (global symbols, as the
    dynamic loader would), so that it and PyTorch share them; those without a wheel are left to the
    extension's RUNPATH, and all of them where PYCOLORIZE_WHEEL_CUDA=0. The files loaded."""
    if os.environ.get(OPT_OUT, "1") == "0":
        return []
    needed = [n for n in needed_libraries(extension) if n.startswith(CUDA_LIBRARIES)]
    folders = wheel_folders() if needed else []
    loaded_files = []
    for name in needed:
        for folder in folders:
            path = os.path.join(folder, name)
            if os.path.exists(path):
                try:
                    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                except OSError:  # a wheel for another CUDA or driver: the toolkit's copy serves
                    continue
                loaded_files.append(path)
                break
    return loaded_files


def loaded(libraries=CUDA_LIBRARIES):
    """{library: [the files of it this process has loaded]} of `libraries` (the starts of their
    file names; the CUDA libraries by default), read from /proc/self/maps on Linux; one file each,
    where the process holds one copy of each."""
    out = {}
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split(None, 5)[-1].strip() if line.count(" ") >= 5 else ""
                name = os.path.basename(path)
                for lib in libraries:
                    if name.startswith(lib + ".so") or name.startswith(lib + "-"):
                        real = os.path.realpath(path)
                        if real not in out.setdefault(lib, []):
                            out[lib].append(real)
    except OSError:
        pass
    return out
