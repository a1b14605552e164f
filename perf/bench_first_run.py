"""First runs after install (issue 17): each command on an empty numba cache, then again.

Run: ``python perf/bench_first_run.py`` from the repository root. Each command runs in a fresh
process with its own empty ``NUMBA_CACHE_DIR`` and LUT cache (the first run: it compiles what
it needs), then once more on that numba cache with a new LUT cache (a later run: the LUT is
built again, its kernels loaded). The table gives both wall times, the kernels the first run
compiled (numba's cache index files) and whether it said so on stderr.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from polewarp.engine.compiling import NOTICE

COMMANDS = (
    ["convert"],  # the README's first command
    ["convert", "--resample", "bilinear"],
    ["convert", "--to", "orthographic", "--center", "60,-40", "--heading", "0"],
    ["lut", "build", "--input-size", "2048x1024", "-o", "table.npy"],
    ["projections"],
)


def run(args, numba_cache, folder):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(numba_cache), POLEWARP_CACHE_DIR=str(folder / "luts"))
    command = [sys.executable, "-m", "polewarp", *args]
    if args[0] == "convert":
        command += ["-o", "out.png"]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=folder, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, NOTICE in done.stderr


def main():
    print("| command | first run, s | later run, s | kernels compiled | notice on the first / later run |")
    print("|---|---|---|---|---|")
    for args in COMMANDS:
        with tempfile.TemporaryDirectory() as temp:
            numba_cache = Path(temp) / "numba"
            first, noticed = run(args, numba_cache, Path(tempfile.mkdtemp(dir=temp)))
            compiled = sorted(path.name.split("-")[0] for path in numba_cache.rglob("*.nbi"))
            later, noticed_later = run(args, numba_cache, Path(tempfile.mkdtemp(dir=temp)))
        names = ", ".join(name.removeprefix("kernels.").removeprefix("fills.") for name in compiled) or "none"
        print(f"| `polewarp {' '.join(args)}` | {first:.1f} | {later:.1f} | {len(compiled)}: {names} | "
              f"{'yes' if noticed else 'no'} / {'yes' if noticed_later else 'no'} |", flush=True)


if __name__ == "__main__":
    main()
