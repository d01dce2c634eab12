"""Child processes that run this copy of pycolorize (the ranks of `train --nproc`, the benchmark's
workers)."""
import os
import sys


def python_command(module):
    """[python, ...] that runs `python -m module` with the pycolorize this process imported: the
    folder that holds it goes first on the child's sys.path, ahead of the current folder that `-m`
    puts there (started from a source tree without its build, the ranks would otherwise import
    that tree instead of the installed package). Arguments follow."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    boot = (f"import runpy, sys; sys.path.insert(0, {root!r}); "
            f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)")
    return [sys.executable, "-c", boot]
