"""Huge maps in bounded memory: polewarp's banded convert against GDAL's warp, on synthetic inputs.

Writes an uncompressed RGB TIFF of the asked size (a smooth pattern with noise, made a band at
a time), then runs, --rounds times in turn, each as a subprocess whose process tree is sampled every
50 ms:
  polewarp convert IN -o OUT.tif --no-cache      (transverse Mercator, the default geometry)
  rasterio.warp.reproject (GDAL), nearest, warp_mem_limit=1024, num_threads=2, SAMPLE_GRID=YES
Memory is the peak of the sum over the tree of Pss_Anon + Pss_Shmem (/proc/PID/smaps_rollup,
the fields behind psutil's memory_full_info): file-backed pages of a memory-mapped input or of
the output are not counted. The page cache is warmed by reading the input once first (an input
of the right size left by an earlier run is used again), and dirty pages are written out (sync)
before each run, so that no run pays for the last one's writes.

    python perf/bench_huge.py --size 43200x21600 --workdir /tmp/huge --rounds 3
    python perf/bench_huge.py --size 86400x43200 --workdir /tmp/huge --gdal-timeout 1800 --max-pixels 4000000000
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil

SAMPLE_S = 0.05
FIELDS = ("Pss_Anon:", "Pss_Shmem:")

GDAL = """
import sys, rasterio
from rasterio.transform import from_bounds
from rasterio.warp import reproject, Resampling
src_path, dst_path, width, height, x_edge, y_edge = sys.argv[1:7]
width, height, x_edge, y_edge = int(width), int(height), float(x_edge), float(y_edge)
dst_crs = "+proj=ob_tran +o_proj=merc +R=1 +o_lat_p=0 +o_lon_p=-90 +lon_0=-90 +no_defs"
with rasterio.open(src_path) as src:
    profile = dict(driver="GTiff", width=width, height=height, count=3, dtype="uint8", crs=dst_crs,
                   transform=from_bounds(-x_edge, -y_edge, x_edge, y_edge, width, height),
                   BIGTIFF="IF_SAFER", INTERLEAVE="PIXEL")
    with rasterio.open(dst_path, "w", **profile) as dst:
        reproject(rasterio.band(src, (1, 2, 3)), rasterio.band(dst, (1, 2, 3)),
                  resampling=Resampling.nearest,
                  warp_mem_limit=1024, num_threads=2, SAMPLE_GRID="YES")
"""


def tree_memory(process: psutil.Process) -> int:
    """Σ(Pss_Anon + Pss_Shmem) in bytes over the process and its descendants."""
    total = 0
    try:
        members = [process] + process.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        try:
            with open(f"/proc/{member.pid}/smaps_rollup") as stream:
                total += sum(int(line.split()[1]) * 1024 for line in stream if line.startswith(FIELDS))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def run_sampled(args) -> tuple[float, int, subprocess.CompletedProcess]:
    """(wall seconds, peak bytes, the finished process) of one subprocess."""
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched, peak, done = psutil.Process(child.pid), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_memory(watched))
            done.wait(SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    return seconds, peak[0], subprocess.CompletedProcess(args, child.returncode, out, err)


def write_input(path: Path, width: int, height: int) -> None:
    """An uncompressed, strip-organised RGB TIFF made a band at a time (never whole in memory)."""
    import tifffile

    if path.exists() and path.stat().st_size >= width * height * 3:
        return
    band = max(1, 2**27 // (width * 3))
    # One band of noise, shifted by a prime number of pixels each band: fast to make, and no two
    # bands alike (a gather copying the wrong row would show).
    noise = np.random.default_rng(0).integers(0, 32, band * width * 3 + 3 * 7919 * 64, dtype=np.uint8)
    column = (np.sin(np.arange(width, dtype=np.float32) / 997.0) * 60 + 40).astype(np.uint8)

    def strips():
        for index, r0 in enumerate(range(0, height, band)):
            rows = min(band, height - r0)
            shift = 3 * 7919 * (index % 64)
            pixels = noise[shift:shift + rows * width * 3].reshape(rows, width, 3).copy()
            pixels += column[None, :, None]
            pixels += np.uint8(r0 * 120 // height)
            yield pixels.tobytes()

    with tifffile.TiffWriter(path, bigtiff=width * height * 3 > 2**32 - 2**26) as tif:
        tif.write(strips(), shape=(height, width, 3), dtype=np.uint8, photometric="rgb", rowsperstrip=band,
                  metadata=None)
    try:  # GDAL needs the georeference (the pixels stay where they are)
        import rasterio
        from rasterio.transform import from_bounds
    except ImportError:
        return
    with rasterio.open(path, "r+") as dataset:
        dataset.crs = "+proj=longlat +R=1 +no_defs"
        dataset.transform = from_bounds(-180, -90, 180, 90, width, height)


def warm(path: Path) -> None:
    with open(path, "rb") as stream:
        while stream.read(2**26):
            pass


def report(name, seconds, peak, input_bytes, run):
    status = "ok" if run.returncode == 0 else f"FAILED ({run.returncode}): {run.stderr.strip()[-300:]}"
    print(f"{name:<10} {seconds:8.1f} s  peak {peak / 2**30:6.2f} GiB  "
          f"(input {input_bytes / 2**30:.2f} GiB)  {status}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="43200x21600")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/polewarp-huge"))
    parser.add_argument("--max-pixels", default=None, help="polewarp's --max-pixels (above 1e9 px)")
    parser.add_argument("--max-memory", default=None, help="polewarp's --max-memory [its default]")
    parser.add_argument("--gdal-timeout", type=float, default=1800, help="seconds; 0: skip GDAL")
    parser.add_argument("--rounds", type=int, default=1, help="polewarp then GDAL, this many times")
    args = parser.parse_args()
    width, height = (int(side) for side in args.size.split("x"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    source = args.workdir / f"in_{width}x{height}.tif"
    start = time.perf_counter()
    write_input(source, width, height)
    print(f"input {source}: {source.stat().st_size / 2**30:.2f} GiB on disk ({time.perf_counter() - start:.0f} s)",
          flush=True)
    warm(source)
    print(f"load average {psutil.getloadavg()}, {psutil.virtual_memory().available / 2**30:.1f} GiB available",
          flush=True)
    times = {"polewarp": [], "gdal": []}
    for _ in range(args.rounds):
        times["polewarp"].append(run_polewarp(source, args, width * height * 3))
        if args.gdal_timeout > 0:
            times["gdal"].append(run_gdal(source, args, width, height))
    spent = {name: statistics.median(found) for name, found in times.items() if found and None not in found}
    if len(spent) == 2:
        print(f"polewarp / gdal wall time (medians of {args.rounds}): {spent['polewarp'] / spent['gdal']:.3f}")


def run_polewarp(source: Path, args, input_bytes: int) -> float | None:
    """One polewarp convert, after the dirty pages of earlier runs are written out."""
    output = args.workdir / "polewarp.tif"
    command = [sys.executable, "-m", "polewarp", "-v", "convert", str(source), "-o", str(output),
               "--no-cache", "--time"]
    command += ["--max-pixels", args.max_pixels] if args.max_pixels else []
    command += ["--max-memory", args.max_memory] if args.max_memory else []
    print("$ " + " ".join(command), flush=True)
    os.sync()
    seconds, peak, run = run_sampled(command)
    report("polewarp", seconds, peak, input_bytes, run)
    print(run.stderr.strip()[-1500:], flush=True)
    output.unlink(missing_ok=True)
    return seconds if run.returncode == 0 else None


def run_gdal(source: Path, args, width: int, height: int) -> float | None:
    """One GDAL warp of the same geometry (or None: it failed or ran past the timeout)."""
    from polewarp.engine.geometry import Geometry

    spec = Geometry().spec((width, height))
    x_edge, y_edge = spec.output.bounds(spec.options("to"))
    out_w, out_h = spec.output_size
    output = args.workdir / "gdal.tif"
    gdal = [sys.executable, "-c", GDAL, str(source), str(output), str(out_w), str(out_h), str(x_edge), str(y_edge)]
    print(f"$ rasterio.warp.reproject -> {out_w}x{out_h} (timeout {args.gdal_timeout:.0f} s)", flush=True)
    os.sync()
    try:
        seconds, peak, run = run_sampled(["timeout", str(int(args.gdal_timeout))] + gdal)
        report("gdal", seconds, peak, width * height * 3, run)
    finally:
        output.unlink(missing_ok=True)
    return seconds if run.returncode == 0 else None


if __name__ == "__main__":
    main()
