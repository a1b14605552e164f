"""Resampling benchmarks: build and gather speed of each method against nearest and
OpenCV's remap (one thread) in the same run, and quality (PSNR against an 8x8 supersampled
float64 rendering) on the embedded map at its size and at half of it.

Run: ``python perf/bench_resample.py`` (OpenCV optional: ``pip install opencv-python-headless``).
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from harness import measure, measure_interleaved, row  # noqa: E402

from polewarp import GeometrySpec, apply_lut, build_lut  # noqa: E402
from polewarp.data import default_map  # noqa: E402
from tests import reference  # noqa: E402

SIZE = (2048, 1024)


def bench_build():
    print("\n## LUT build 2048x1024, threads, 2 workers (baseline: nearest)")
    base = None
    for resample in ("nearest", "bilinear", "average"):
        spec = GeometrySpec(SIZE, resample=resample)
        result = measure(lambda: build_lut(spec, "threads", 2))
        label = f"{resample}" + (f" ({spec.supersample}x{spec.supersample} samples)" if spec.supersample else "")
        row(label, result, SIZE[0] * SIZE[1], base)
        base = base or result


def bench_gather(pixels):
    print("\n## gather 2048x1024, one thread, interleaved rounds "
          "(baseline: OpenCV's bilinear remap, the faster of its two forms)")
    luts = {r: build_lut(GeometrySpec(SIZE, resample=r)) for r in ("nearest", "bilinear", "average")}
    images = {"RGB": pixels, "L": np.ascontiguousarray(pixels[..., 1]),
              "RGBA": np.dstack([pixels, np.where(pixels[..., 2] > 100, 255, 0).astype(np.uint8)])}
    for mode, image in images.items():
        alpha = mode == "RGBA"
        contenders = _opencv_bilinear(image, luts["bilinear"].array)
        baselines = list(contenders)
        for resample, lut in luts.items():
            name = f"polewarp {resample}" + (" (alpha premultiplied)" if alpha and resample != "nearest" else "")
            contenders[name] = lambda lut=lut: apply_lut(lut, image, gather="numba", alpha=alpha)
        timings = measure_interleaved(contenders)
        base = min(timings[name] for name in baselines) if baselines else None
        for name, seconds in timings.items():
            row(f"{mode}: {name}", seconds, SIZE[0] * SIZE[1], base)


def _opencv_bilinear(image, table):
    """OpenCV's bilinear remap of ``image`` with fixed-point and with float maps, one thread,
    as named calls (none without OpenCV)."""
    try:
        import cv2
    except ImportError:
        print("(OpenCV not installed: pip install opencv-python-headless)")
        return {}
    cv2.setNumThreads(1)
    fx, fy = table[..., 1].astype(np.float32) / 256, table[..., 0].astype(np.float32) / 256
    fixed = cv2.convertMaps(fx, fy, cv2.CV_16SC2)
    return {
        "OpenCV remap bilinear, fixed-point maps": lambda: cv2.remap(image, *fixed, cv2.INTER_LINEAR,
                                                                     borderMode=cv2.BORDER_WRAP),
        "OpenCV remap bilinear, float maps": lambda: cv2.remap(image, fx, fy, cv2.INTER_LINEAR,
                                                               borderMode=cv2.BORDER_WRAP),
    }


def quality(pixels):
    print("\n## quality: PSNR (dB) against 8x8 supersampling in float64, embedded map 2048x1024")
    for out_w, out_h in (SIZE, (SIZE[0] // 2, SIZE[1] // 2)):
        ideal = reference.supersampled(pixels, out_w, out_h)
        scores = []
        for resample in ("nearest", "bilinear", "average"):
            spec = GeometrySpec(SIZE, output_size=(out_w, out_h), resample=resample)
            scores.append(f"{resample} {reference.psnr(apply_lut(build_lut(spec), pixels), ideal):.2f}")
        print(f"output {out_w}x{out_h}: " + ", ".join(scores))


def main():
    with Image.open(default_map()) as image:
        pixels = np.asarray(image.convert("RGB"))
    build_lut(GeometrySpec((8, 4), resample="bilinear"))
    bench_build()
    bench_gather(pixels)
    quality(pixels)


if __name__ == "__main__":
    main()
