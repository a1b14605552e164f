"""Engine benchmarks for issue 2: LUT build, gather and end-to-end convert, with anchors in the same run.

Run: ``python perf/bench_engine.py [--old-script PATH]`` (needs the ``perf`` extra). Ratios
(x...) are against the line named as baseline for each block; copy the output to RESULTS.md.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import measure, measure_command, python, row  # noqa: E402

from polewarp import GeometrySpec, apply_lut, build_lut  # noqa: E402
from polewarp.data import default_map  # noqa: E402


def numpy_build(spec: GeometrySpec, block_rows=64):
    """The same formulas vectorised with numpy (hoisted per row and column), as an anchor."""
    width, height = spec.output_size
    in_w, in_h = spec.input_size
    top = 17.5 * np.pi / 18
    s = (np.arange(width) + 0.5) / width * (2 * np.pi) - np.pi
    t = top - (np.arange(height) + 0.5) / height * (2 * top)
    sin_s, cos_s, sinh_t, cosh_t = np.sin(s), np.cos(s), np.sinh(t), np.cosh(t)
    out = np.empty((height, width, 2), np.uint16)
    for r0 in range(0, height, block_rows):
        r1 = min(height, r0 + block_rows)
        lat = -np.arcsin(sin_s / cosh_t[r0:r1, None])
        lon = np.arctan2(sinh_t[r0:r1, None], cos_s)
        out[r0:r1, :, 1] = np.floor((lon + np.pi) / (2 * np.pi) * in_w).astype(np.int64) % in_w
        out[r0:r1, :, 0] = np.minimum(np.floor((np.pi / 2 - lat) / np.pi * in_h), in_h - 1)
    return out


def bench_build(size, repeat):
    spec = GeometrySpec(size)
    pixels = size[0] * size[1]
    print(f"\n## LUT build {size[0]}x{size[1]} (baseline: numpy-vectorised)")
    base = measure(lambda: numpy_build(spec), repeat)
    row("numpy vectorised, 64-row blocks", base, pixels)
    for backend, workers in (("serial", 1), ("processes", 1), ("processes", 2), ("threads", 2),
                             ("prange", 2)):
        result = measure(lambda: build_lut(spec, backend, workers), repeat)
        row(f"polewarp {backend}, {workers} worker(s), auto rows/task", result, pixels, base)


def bench_gather(repeat):
    spec = GeometrySpec((2048, 1024))
    lut = build_lut(spec)
    print("\n## gather 2048x1024 (baseline: numpy fancy indexing img[rows, cols])")
    rng = np.random.default_rng(0)
    for channels in (3, 4, 1):
        image = rng.integers(0, 256, (1024, 2048, channels), dtype=np.uint8)
        rows, cols = lut.array[..., 0], lut.array[..., 1]
        base = measure(lambda: image[rows, cols], repeat)
        row(f"fancy indexing, {channels} x uint8", base, 2048 * 1024)
        for gather in ("numpy", "numba"):
            row(f"polewarp {gather} gather, {channels} x uint8",
                measure(lambda: apply_lut(lut, image, gather=gather), repeat), 2048 * 1024, base)


def bench_convert(folder: Path, repeat, old_script):
    png = folder / "map.png"
    with Image.open(default_map()) as image:
        image.save(png, compress_level=1)
    out = folder / "out.png"
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    # As `pip install` does: compiled bytecode, so that no run pays for compiling polewarp
    # (this workplace sets PYTHONDONTWRITEBYTECODE, which would charge every run ~40 ms).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "polewarp")], check=True)
    floor_code = (
        "import numpy as np; from PIL import Image\n"
        f"im = Image.open({str(png)!r}); a = np.asarray(im)\n"
        f"Image.fromarray(a).save({str(out)!r}, compress_level=1)"
    )
    startup_code = (
        "import time; t = time.perf_counter()\n"
        "import numpy as np; from polewarp import GeometrySpec, build_lut, apply_lut\n"
        "apply_lut(build_lut(GeometrySpec((4, 2))), np.zeros((2, 4, 3), np.uint8), gather='numba')\n"
        "print(time.perf_counter() - t)"
    )
    print("\n## polewarp convert, 2048x1024 PNG, numba kernel cache warm (baseline: I/O floor)")

    floor = measure_command(python(floor_code), repeat, env=env)
    row("(a) I/O floor: python + numpy + Pillow decode/encode", floor)
    startups = sorted(float(subprocess.run(python(startup_code), env=env, capture_output=True, text=True,
                                           check=True).stdout) for _ in range(repeat))
    startup = (startups[len(startups) // 2], startups[0], startups[-1])
    row("(b) numba start-up: import + load cached kernels", startup)
    convert = [sys.executable, "-m", "polewarp", "convert", str(png), "-o", str(out)]
    nocache = measure_command(convert + ["--no-cache"], repeat, env=env)
    row("polewarp convert --no-cache (LUT built)", nocache, baseline=floor)
    print(f"{'   budget (a) + (b) + 50 ms':<52} {(floor[0] + startup[0] + 0.05) * 1000:9.1f} ms")
    cache = folder / "cache"
    warm = measure_command(convert + ["--cache-dir", str(cache)], repeat, env=env)
    row("polewarp convert, LUT cache warm", warm, baseline=floor)
    print(f"{'   ratio to floor (a)':<52} {warm[0] / floor[0]:9.2f}")
    for level in (1, 6, 9):
        measured = measure_command(convert + ["--cache-dir", str(cache), "--compress-level", str(level)],
                                   max(3, repeat // 2), env=env)
        row(f"  ... --compress-level {level}: {out.stat().st_size:,} bytes", measured, baseline=floor)
    if old_script:
        print("\n## the original script, 2048x1024, -c2 -d (one run)")
        old = measure_command([sys.executable, old_script, "-i", str(png), "-o", str(folder / "old.png"),
                               "-c", "2", "-n", "4", "-d"], 1, 0)
        row("original script, 2 workers", old)
        print(f"{'   polewarp convert --no-cache is faster by':<52} x{old[0] / nocache[0]:.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--old-script", help="path to the old InvMerc_MultiLine.py, to time it too")
    parser.add_argument("--skip-large", action="store_true", help="leave out 8192x4096")
    parser.add_argument("--only-convert", action="store_true", help="only the end-to-end convert block")
    args = parser.parse_args()
    build_lut(GeometrySpec((8, 4)), "prange", 2)  # compile or load every kernel once
    sizes = [(2048, 1024)] + ([] if args.skip_large else [(8192, 4096)])
    for size in [] if args.only_convert else sizes:
        bench_build(size, args.repeat)
    if not args.only_convert:
        bench_gather(args.repeat)
    with tempfile.TemporaryDirectory() as folder:
        bench_convert(Path(folder), args.repeat, args.old_script)


if __name__ == "__main__":
    main()
