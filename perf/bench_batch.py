"""Batch throughput: 20+ 2048x1024 PNGs with 1 and 2 workers, in one run.

Run: ``python perf/bench_batch.py [--images 24]``. The LUT cache is warmed first, so both runs
measure reading, gathering and writing only.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from harness import wall_time  # noqa: E402

from polewarp.data import default_map  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        source = folder / "in"
        source.mkdir()
        with Image.open(default_map()) as image:
            for i in range(args.images):
                image.save(source / f"map{i:02d}.png", compress_level=1)
        env = dict(os.environ, PYTHONPATH=str(ROOT), POLEWARP_CACHE_DIR=str(folder / "cache"))
        command = [sys.executable, "-m", "polewarp", "batch", str(source), "-q", "--overwrite"]
        wall_time(command + ["-o", str(folder / "warm"), "-c", "1"], env)
        times = {1: [], 2: []}
        for _ in range(args.repeat):
            for workers in (1, 2):
                output = ["-o", str(folder / f"out{workers}"), "-c", str(workers)]
                times[workers].append(wall_time(command + output, env))
        best = {w: min(t) for w, t in times.items()}
        print(f"## batch of {args.images} 2048x1024 PNGs (LUT cache warm), best of {args.repeat}")
        for workers, seconds in best.items():
            print(f"{workers} worker(s): {seconds:6.2f} s  {args.images / seconds:6.2f} images/s")
        print(f"throughput 2 workers / 1 worker: x{best[1] / best[2]:.2f}")


if __name__ == "__main__":
    main()
