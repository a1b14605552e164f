"""The codec floor (issue 17): PNG encode and decode against Pillow, a cached convert, a batch.

Run: ``python perf/bench_codec.py [--repeat 11] [--images 24]`` (the ``fast`` extra for isal;
zlib-ng, deflate (libdeflate) and pyspng are measured when installed). Every ratio is against a
baseline measured in the same run; "today" is main's PNG path, Pillow's encoder, selected with
POLEWARP_PNG_ENCODER=pillow.
"""

import argparse
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from harness import measure_interleaved, row  # noqa: E402

from polewarp.data import default_map  # noqa: E402
from polewarp.engine import pngwrite  # noqa: E402
from polewarp.engine.imageio import PNG_ENCODER_VARIABLE  # noqa: E402

SIZE = (2048, 1024)


def optional(name):
    """A module if it is installed, else None (the line is skipped)."""
    try:
        return __import__(name, fromlist=["_"])
    except ImportError:
        return None


def pillow_encode(image, level=1):
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=level)
    return buffer.getvalue()


def own_encode(pixels, mode, level=1, threads=None):
    buffer = io.BytesIO()
    pngwrite.save(buffer, pixels, mode, None, {"compress_level": level}, threads=threads)
    return buffer.getvalue()


def bench_deflaters(pixels, repeat):
    """One core, one stream: the deflaters on the filtered scanlines of the map."""
    rows = pixels.reshape(SIZE[1], -1)
    data = pngwrite.filter_rows(rows, np.zeros(rows.shape[1], np.uint8), 3).tobytes()
    candidates = {"zlib 1": lambda: zlib.compress(data, 1), "zlib 6": lambda: zlib.compress(data, 6)}
    if zng := optional("zlib_ng.zlib_ng"):
        for level in (1, 2, 3):
            candidates[f"zlib-ng {level}"] = lambda level=level: zng.compress(data, level)
    if isal := optional("isal.isal_zlib"):
        for level in (1, 2, 3):
            candidates[f"isal {level}"] = lambda level=level: isal.compress(data, level)
    if deflate := optional("deflate"):  # one-shot only: no sync flush, so no strips in threads
        for level in (1, 6):
            candidates[f"libdeflate {level} (one-shot)"] = lambda level=level: deflate.zlib_compress(data, level)
    print(f"\n## deflaters, one core, the filtered {SIZE[0]}x{SIZE[1]} RGB map ({len(data):,} bytes); "
          "baseline zlib 1")
    times = measure_interleaved(candidates, repeat)
    for name, function in candidates.items():
        row(f"{name:<28} {len(function()):>10,} bytes", times[name], baseline=times["zlib 1"])


def bench_encode(image, pixels, repeat):
    print(f"\n## PNG encode {SIZE[0]}x{SIZE[1]} RGB map, level 1 (baseline: Pillow)")
    isal = pngwrite.isal_zlib
    functions = {"Pillow level 1": lambda: pillow_encode(image)}
    for threads in (1, 2):
        functions[f"pngwrite, {threads} thread(s)"] = lambda threads=threads: own_encode(pixels, "RGB", 1, threads)

    def zlib_only():
        pngwrite.isal_zlib = None
        try:
            return own_encode(pixels, "RGB", 1, 2)
        finally:
            pngwrite.isal_zlib = isal

    functions["pngwrite, 2 threads, zlib (no isal)"] = zlib_only
    times = measure_interleaved(functions, repeat)
    base = len(functions["Pillow level 1"]())
    for name, function in functions.items():
        size = len(function())
        row(f"{name:<36} size x{size / base:.3f}", times[name], SIZE[0] * SIZE[1], times["Pillow level 1"])
    print("\nsizes against Pillow's at the same level (maps: photographic, grey, 8 flat colours; a gradient)")
    cases = {"RGB map": image, "L map": image.convert("L"), "8-colour RGB map": image.quantize(8).convert("RGB"),
             "gradient RGB": Image.linear_gradient("L").resize(SIZE).convert("RGB")}
    for level in (1, 2, 6, 9):
        ratios = [len(own_encode(np.asarray(im), im.mode, level)) / len(pillow_encode(im, level))
                  for im in cases.values()]
        print(f"level {level}: " + "  ".join(f"{name} x{r:.3f}" for name, r in zip(cases, ratios, strict=True)))


def bench_decode(png, repeat):
    print(f"\n## PNG decode {SIZE[0]}x{SIZE[1]} RGB, level-1 file (baseline: Pillow)")

    def pillow():
        with Image.open(io.BytesIO(png)) as image:
            return np.asarray(image)

    functions = {"Pillow": pillow}
    if spng := optional("pyspng"):
        functions["pyspng (libspng)"] = lambda: spng.load(png)
    times = measure_interleaved(functions, repeat)
    for name in functions:
        row(name, times[name], SIZE[0] * SIZE[1], times["Pillow"])


def decoder_strictness(cases=400):
    """Flip 1-3 bytes of small PNGs: how often libspng (as pyspng calls it, CRC errors ignored)
    returns pixels for a file Pillow refuses as damaged."""
    if not (spng := optional("pyspng")):
        return
    rng, flips = np.random.default_rng(1), np.random.default_rng(2)
    counts = {"both refuse": 0, "both read": 0, "libspng reads what Pillow refuses": 0, "only Pillow reads": 0}
    for mode in ("L", "LA", "RGB", "RGBA"):
        image = Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).convert(mode)
        good = bytearray(pillow_encode(image))
        for _ in range(cases):
            data = good.copy()
            for at in flips.integers(33, len(data), flips.integers(1, 4)):
                data[at] = flips.integers(256)
            try:
                with Image.open(io.BytesIO(bytes(data))) as damaged:
                    damaged.load()
                pillow = True
            except Exception:  # any refusal counts
                pillow = False
            try:
                spng.load(bytes(data))
                libspng = True
            except RuntimeError:
                libspng = False
            key = {(False, False): "both refuse", (True, True): "both read",
                   (False, True): "libspng reads what Pillow refuses", (True, False): "only Pillow reads"}
            counts[key[pillow, libspng]] += 1
    print(f"\n## damaged PNGs ({4 * cases}: 1-3 bytes flipped after the IHDR), Pillow against pyspng")
    print("  ".join(f"{name}: {count}" for name, count in counts.items()))


def phases(stderr: str) -> float:
    """The sum of --time's phases (read, lut, gather, write) in seconds."""
    found = dict(re.findall(r"^\s*(\w+)\s+([\d.]+) ms", stderr, re.MULTILINE))
    return sum(float(found[name]) for name in ("read", "lut", "gather", "write")) / 1000


def bench_convert(folder, source, image, repeat):
    env = dict(os.environ, PYTHONPATH=str(ROOT), POLEWARP_CACHE_DIR=str(folder / "cache"))
    command = [sys.executable, "-m", "polewarp", "convert", str(source), "-o", str(folder / "out.png"), "--time"]
    subprocess.run(command, check=True, capture_output=True, env=env)  # warms the LUT cache
    runs = {"today (Pillow's encoder)": dict(env, **{PNG_ENCODER_VARIABLE: "pillow"}), "pngwrite": env}
    spent = {name: [] for name in runs}
    walls = {name: [] for name in runs}
    floors = []
    png = source.read_bytes()
    for _ in range(repeat):
        start = time.perf_counter()
        with Image.open(io.BytesIO(png)) as decoded:
            pillow_encode(decoded)
        floors.append(time.perf_counter() - start)
        for name, run_env in runs.items():
            start = time.perf_counter()
            done = subprocess.run(command, check=True, capture_output=True, text=True, env=run_env)
            walls[name].append(time.perf_counter() - start)
            spent[name].append(phases(done.stderr))
    floor = statistics.median(floors)
    print(f"\n## cached convert of a {SIZE[0]}x{SIZE[1]} RGB PNG: the sum of --time's phases, median of {repeat} "
          f"(baseline: Pillow's decode + level-1 encode in-process, {floor * 1000:.1f} ms)")
    for name in runs:
        total = statistics.median(spent[name])
        print(f"{name:<28} phases {total * 1000:7.1f} ms  = x{total / floor:.2f} the baseline   "
              f"wall {statistics.median(walls[name]) * 1000:7.1f} ms")


def bench_batch(folder, image, count, repeat):
    source = folder / "batch"
    source.mkdir()
    for i in range(count):
        image.save(source / f"map{i:02d}.png", compress_level=1)
    env = dict(os.environ, PYTHONPATH=str(ROOT), POLEWARP_CACHE_DIR=str(folder / "cache"))
    command = [sys.executable, "-m", "polewarp", "batch", str(source), "-q", "--overwrite", "-c", "2"]
    subprocess.run(command + ["-o", str(folder / "warm")], check=True, capture_output=True, env=env)
    runs = {"today (Pillow's encoder)": dict(env, **{PNG_ENCODER_VARIABLE: "pillow"}), "pngwrite": env}
    times = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run_env in runs.items():
            start = time.perf_counter()
            subprocess.run(command + ["-o", str(folder / "out")], check=True, capture_output=True, env=run_env)
            times[name].append(time.perf_counter() - start)
    print(f"\n## batch of {count} {SIZE[0]}x{SIZE[1]} PNGs on 2 workers (LUT cache warm), median of {repeat}")
    today = statistics.median(times["today (Pillow's encoder)"])
    for name, spent in times.items():
        seconds = statistics.median(spent)
        print(f"{name:<28} {seconds:6.2f} s  {count / seconds:6.2f} maps/s  throughput x{today / seconds:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--batch-repeat", type=int, default=3)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "polewarp")], check=True)
    with Image.open(default_map()) as world:
        image = world.convert("RGB").resize(SIZE)
    pixels = np.asarray(image)
    print(f"isal: {pngwrite.isal_zlib is not None}; cores: {len(os.sched_getaffinity(0))}")
    bench_deflaters(pixels, args.repeat)
    bench_encode(image, pixels, args.repeat)
    png = pillow_encode(image)
    bench_decode(png, args.repeat)
    decoder_strictness()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        source = folder / "map.png"
        source.write_bytes(png)
        bench_convert(folder, source, image, args.repeat)
        bench_batch(folder, image, args.images, args.batch_repeat)


if __name__ == "__main__":
    main()
