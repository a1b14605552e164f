"""What checking a LUT from outside the process costs, and which gather a cache hit should take.

Run: ``python perf/bench_check.py [--repeat 5] [--skip-convert]``. Two blocks, each measured
interleaved in one run:

1. the gather of an 8192x4096 RGB uint8 image through a uint16 nearest LUT marked checked
   (built here) against the same LUT unmarked (as from a file or the cache: the numba gather
   checks every pair as it reads it), and the check as a pre-pass of its own (numpy, numba);
2. ``polewarp convert --time`` at 0.5, 2, 8 and 33 Mpx: the lut + gather phases of a miss
   (build) against those of a cache hit gathering with numpy, with numba, and by the default
   threshold (gather.NUMBA_MIN_PIXELS), each a fresh process.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import measure_interleaved, row  # noqa: E402

from polewarp import GeometrySpec, Lut, apply_lut, build_lut  # noqa: E402
from polewarp.engine import gather  # noqa: E402

SIZES = ((1024, 512), (2048, 1024), (4096, 2048), (8192, 4096))
# A cache hit in a fresh process with the numba threshold set: -1 keeps the default.
HIT = (
    "import sys; from polewarp.engine import gather\n"
    "if int(sys.argv[1]) >= 0: gather.NUMBA_MIN_PIXELS = int(sys.argv[1])\n"
    "from polewarp.cli import cli\n"
    "cli.main(sys.argv[2:], prog_name='polewarp')\n"
)


def bench_check(repeat: int) -> None:
    spec = GeometrySpec((8192, 4096))
    built = build_lut(spec, "prange", 2)
    foreign = Lut(built.array, spec, "file")
    image = np.random.default_rng(0).integers(0, 256, (4096, 8192, 3), dtype=np.uint8)
    pixels = 8192 * 4096
    contenders = {
        "gather, LUT built here (no check)": lambda: apply_lut(built, image, gather="numba"),
        "gather, LUT from outside (checked while gathering)": lambda: apply_lut(foreign, image, gather="numba"),
        "check alone, numba pre-pass": lambda: gather.check_lut(built.array, (4096, 8192), gather="numba"),
        "check alone, numpy pre-pass": lambda: gather.check_lut(built.array, (4096, 8192), gather="numpy"),
    }
    print(f"\n## check cost: uint16 nearest LUT, RGB uint8, 8192x4096, median of {repeat} interleaved")
    results = measure_interleaved(contenders, repeat)
    base = results["gather, LUT built here (no check)"]
    for name, seconds in results.items():
        row(name, seconds, pixels, base)


def phases(stderr: str) -> float:
    """Seconds of the lut and gather phases in ``convert --time``'s report."""
    total = 0.0
    for line in stderr.splitlines():
        words = line.split()
        if words[:1] in (["lut"], ["gather"]):
            total += float(words[1]) / 1000
    return total


def bench_convert(repeat: int) -> None:
    print(f"\n## convert --time, lut + gather phases, median of {repeat} interleaved runs (baseline: miss)")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for width, height in SIZES:
            source = folder / f"in{width}.png"
            ramp = np.linspace(0, 255, width * height * 3).astype(np.uint8).reshape(height, width, 3)
            Image.fromarray(ramp).save(source, compress_level=1)
            args = ["convert", str(source), "-o", str(folder / "out.bmp"), "--time"]
            cache = ["--cache-dir", str(folder / f"cache{width}")]

            def run(threshold, extra):
                done = subprocess.run([sys.executable, "-c", HIT, str(threshold), *args, *extra],
                                      capture_output=True, text=True, check=True, cwd=ROOT)
                return phases(done.stderr)

            run(-1, cache)  # fill the cache
            variants = {
                "miss (build + gather)": lambda: run(-1, ["--no-cache"]),
                "hit, numpy gather": lambda: run(2**62, cache),
                "hit, numba gather": lambda: run(0, cache),
                "hit, default threshold": lambda: run(-1, cache),
            }
            times = {name: [] for name in variants}
            for _ in range(repeat):
                for name, variant in variants.items():
                    times[name].append(variant())
            print(f"{width}x{height} ({width * height / 1e6:.1f} Mpx)")
            base = None
            for name, spent in times.items():
                seconds = (statistics.median(spent), min(spent), max(spent))
                base = base or seconds
                row(f"  {name}", seconds, baseline=base)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-convert", action="store_true", help="only the check cost")
    args = parser.parse_args()
    print(f"gather.NUMBA_MIN_PIXELS = {gather.NUMBA_MIN_PIXELS:,}")
    bench_check(args.repeat)
    if not args.skip_convert:
        bench_convert(args.repeat)


if __name__ == "__main__":
    main()
