"""In memory or in bands: which path converts a map of each size faster (the BANDED_MIN_PIXELS rule).

For each width (height half of it), an RGB map with blocks of noise, written as an uncompressed
TIFF and as a PNG; each converted to TIFF and to PNG by whole `polewarp convert` runs (default
geometry, --no-cache), the in-memory path (`--max-memory none`) and the banded one (`--max-memory
1K`: 64 MiB bands) in turn, so that the machine's drift reaches both alike. Prints the medians
and banded / in-memory.

    python perf/bench_banded.py --widths 2048,4096,8192,16384 --repeat 3
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import measure_interleaved  # noqa: E402

from polewarp.engine.profiler import machine  # noqa: E402


def write_inputs(folder: Path, width: int) -> list[Path]:
    """The same pixels as an uncompressed TIFF (read without decoding) and a PNG (decoded)."""
    height = width // 2
    blocks = np.random.default_rng(width).integers(0, 255, (height // 8 + 1, width // 8 + 1, 3), np.uint8)
    pixels = np.repeat(np.repeat(blocks, 8, 0), 8, 1)[:height, :width]
    tiff, png = folder / f"in{width}.tif", folder / f"in{width}.png"
    tifffile.imwrite(tiff, pixels)
    Image.fromarray(pixels).save(png, compress_level=1)
    return [tiff, png]


def convert(source: Path, target: Path, budget: str):
    def run():
        target.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-m", "polewarp", "convert", str(source), "-o", str(target), "--no-cache",
                        "--max-memory", budget], check=True, capture_output=True)

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="2048,4096,8192,16384")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    info = machine()
    print(f"# {info['cpu']}, {info['logical_cores']} cores, {' '.join(info['simd'])}; load {os.getloadavg()[0]:.1f}")
    print("| size | input | output | in memory s | banded s | banded / in memory |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for width in (int(w) for w in args.widths.split(",")):
            for source in write_inputs(folder, width):
                for ext in ("tif", "png"):
                    target = folder / f"out.{ext}"
                    times = measure_interleaved({"memory": convert(source, target, "none"),
                                                 "banded": convert(source, target, "1K")}, args.repeat)
                    memory, banded = times["memory"][0], times["banded"][0]
                    print(f"| {width}x{width // 2} | {source.suffix[1:]} | {ext} | {memory:.2f} | {banded:.2f} "
                          f"| {banded / memory:.2f} |", flush=True)
            for path in folder.iterdir():
                path.unlink()


if __name__ == "__main__":
    main()
