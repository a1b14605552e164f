"""Dask path against the local batch: same images, 2 workers each, in one run.

Run: ``python perf/bench_dask.py``. For several batch sizes it times the local pool and a
``local:2`` Dask cluster (both LUT transfers), then derives the per-image overhead and the fixed
cost, and so where the cluster path stops costing more than it saves (see RESULTS.md).
"""

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
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        env = dict(os.environ, PYTHONPATH=str(ROOT), POLEWARP_CACHE_DIR=str(folder / "cache"))
        with Image.open(default_map()) as image:
            frames = {"2048x1024": image.copy(), "512x256": image.resize((512, 256))}
        print("## batch: local pool (2 workers) vs Dask local:2 cluster, LUT cache warm, best of 2")
        print(f"{'images':>6} {'size':>10} {'local s':>8} {'dask cache s':>13} {'dask scatter s':>15}")
        rows = []
        for size, frame in frames.items():
            for count in (4, 24):
                source = folder / f"in_{size}_{count}"
                source.mkdir()
                for i in range(count):
                    frame.save(source / f"m{i:02d}.png", compress_level=1)
                base = [sys.executable, "-m", "polewarp", "batch", str(source), "-q", "--overwrite"]
                wall_time(base + ["-o", str(folder / "warm")], env)
                local = min(wall_time(base + ["-o", str(folder / "l"), "-c", "2"], env) for _ in range(2))
                dask = {t: min(wall_time(base + ["-o", str(folder / "d"), "--scheduler", "local:2",
                                             "--lut-transfer", t], env) for _ in range(2))
                        for t in ("cache", "scatter")}
                rows.append((size, count, local, dask["cache"]))
                print(f"{count:>6} {size:>10} {local:8.2f} {dask['cache']:13.2f} {dask['scatter']:15.2f}")
        for size in frames:
            (_, n1, l1, d1), (_, n2, l2, d2) = [r for r in rows if r[0] == size]
            per_local, per_dask = (l2 - l1) / (n2 - n1), (d2 - d1) / (n2 - n1)
            fixed = (d1 - per_dask * n1) - (l1 - per_local * n1)
            print(f"{size}: per image local {per_local * 1000:.0f} ms, dask {per_dask * 1000:.0f} ms "
                  f"(overhead {1000 * (per_dask - per_local):+.0f} ms/image); dask fixed cost "
                  f"{fixed:+.2f} s over local")


if __name__ == "__main__":
    main()
