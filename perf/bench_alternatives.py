"""polewarp against the tools users would pick instead, and any geometry against the
default one, in one run.

Run: ``python perf/bench_alternatives.py [--old-script PATH]``. OpenCV (``opencv-python-headless``)
and GDAL (``rasterio``) are optional; missing ones are skipped with a note.
"""

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

from bench_engine import numpy_build  # noqa: E402
from harness import measure, row  # noqa: E402

from polewarp import GeometrySpec, apply_lut, build_lut  # noqa: E402
from polewarp.data import default_map  # noqa: E402

OB_TRAN = "+proj=ob_tran +o_proj=merc +o_lat_p=0 +o_lon_p=-90 +lon_0=-90 +R=1 +no_defs"


def gdal_warp(image):
    """GDAL through rasterio, the whole warp (geometry and nearest resampling), one thread."""
    from rasterio.crs import CRS
    from rasterio.transform import from_bounds
    from rasterio.warp import Resampling, reproject

    height, width = image.shape[:2]
    top = 17.5 * math.pi / 18
    source = np.moveaxis(image, 2, 0)
    target = np.zeros_like(source)
    reproject(source, target, src_transform=from_bounds(-180, -90, 180, 90, width, height),
              src_crs=CRS.from_proj4("+proj=longlat +R=1 +no_defs"),
              dst_transform=from_bounds(-math.pi, -top, math.pi, top, width, height),
              dst_crs=CRS.from_proj4(OB_TRAN), resampling=Resampling.nearest, num_threads=1,
              SAMPLE_GRID="YES")
    return target


def bench_size(size, image, repeat):
    pixels = size[0] * size[1]
    spec = GeometrySpec(size)
    print(f"\n## {size[0]}x{size[1]} RGB: LUT build and gather (baseline: numpy-vectorised build)")
    base = measure(lambda: numpy_build(spec), repeat)
    row("numpy-vectorised LUT build", base, pixels)
    row("polewarp LUT build, processes, 2 workers", measure(lambda: build_lut(spec, "processes", 2), repeat),
        pixels, base)
    lut = build_lut(spec)
    gather = measure(lambda: apply_lut(lut, image, gather="numba"), repeat)
    row("polewarp gather (numba, one thread)", gather, pixels)
    try:
        import cv2

        cv2.setNumThreads(1)
        maps = cv2.convertMaps(lut.array[..., 1].astype(np.float32), lut.array[..., 0].astype(np.float32),
                               cv2.CV_16SC2)
        row("OpenCV remap nearest, fixed-point maps, one thread (vs polewarp gather)",
            measure(lambda: cv2.remap(image, *maps, cv2.INTER_NEAREST), repeat), pixels, gather)
    except ImportError:
        print("(OpenCV not installed: pip install opencv-python-headless)")
    try:
        whole = measure(lambda: apply_lut(build_lut(spec, "processes", 2), image), repeat)
        row("polewarp build + gather, no cache", whole, pixels)
        gdal = measure(lambda: gdal_warp(image), max(2, repeat // 2))
        row("GDAL warp (rasterio, SAMPLE_GRID=YES, one thread) (vs polewarp)", gdal, pixels, whole)
        cached = measure(lambda: apply_lut(lut, image), repeat)
        print(f"{'   polewarp with a cached LUT is faster than GDAL by':<52} x{gdal[0] / cached[0]:.1f}")
    except ImportError:
        print("(GDAL not installed: pip install rasterio)")


def bench_geometries(repeat):
    print("\n## LUT build for other geometries, 2048x1024, serial (baseline: the default aspect)")
    cases = {
        "default (transverse)": {},
        "oblique, centre 40,-30, heading 45": dict(center=(40, -30), heading=45),
        "oblique to equirectangular": dict(center=(40, -30), heading=45, to="equirectangular"),
        "Mercator input, oblique": dict(center=(40, -30), heading=45, source="mercator"),
        "identity, equirectangular": dict(heading=0, to="equirectangular"),
    }
    base = None
    for name, geometry in cases.items():
        spec = GeometrySpec((2048, 1024), **geometry)
        result = measure(lambda: build_lut(spec, "serial"), repeat)
        row(name, result, 2048 * 1024, base)
        base = base or result


def bench_old_script(old_script, folder):
    print("\n## the original script's per-pixel approach, 720x360 (baseline: polewarp convert)")
    png = folder / "small.png"
    with Image.open(default_map()) as image:
        image.resize((720, 360)).save(png)
    command = [sys.executable, "-m", "polewarp", "convert", str(png), "-o", str(folder / "o.png"), "--no-cache"]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run([sys.executable, old_script, "-i", str(png), "-o", str(folder / "old.png"), "-c", "1", "-n", "1",
                    "-d"], check=True, capture_output=True)
    old = time.perf_counter() - start
    print(f"polewarp convert {ours * 1000:.0f} ms; original script, 1 worker {old * 1000:.0f} ms: x{old / ours:.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--old-script")
    args = parser.parse_args()
    with Image.open(default_map()) as image:
        small = np.asarray(image.convert("RGB"))
        large = np.asarray(image.convert("RGB").resize((8192, 4096)))
    build_lut(GeometrySpec((8, 4)), "processes", 2)
    bench_geometries(args.repeat)
    bench_size((2048, 1024), small, args.repeat)
    bench_size((8192, 4096), large, max(2, args.repeat // 2))
    if args.old_script:
        with tempfile.TemporaryDirectory() as folder:
            bench_old_script(args.old_script, Path(folder))


if __name__ == "__main__":
    main()
