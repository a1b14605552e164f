"""Fuzzing the reader: damaged files of every format polewarp reads (and a few more Pillow opens)
either read or fail with ImageError, and in a batch they fail alone.

A seeded mutator (byte flips, "interesting" integers, truncations, inserted and deleted
chunks) over small valid files: the same cases on every run, so a failure can be replayed
from its name and seed.
"""

import io
import random
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from polewarp.engine.errors import ImageError
from polewarp.engine.imageio import read_image

from .conftest import make_map, run_env

MAX_PIXELS = 1 << 20  # damaged headers claim huge sizes: refuse them before decoding, quickly
INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def _encoded(fmt, mode, **options):
    buffer = io.BytesIO()
    Image.fromarray(make_map(16, 12, seed=len(fmt))).convert(mode).save(buffer, fmt, **options)
    return buffer.getvalue()


def _pages(fmt, mode):
    """Two frames in one file (counting them parses the second)."""
    frames = [Image.fromarray(make_map(16, 12, seed=seed)).convert(mode) for seed in (1, 2)]
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def seed_files() -> dict:
    """Small valid files: the formats polewarp writes, then some only Pillow reads."""
    return {
        "png-rgb": _encoded("PNG", "RGB"), "png-palette": _encoded("PNG", "P", transparency=0),
        "png-rgba": _encoded("PNG", "RGBA"), "jpeg": _encoded("JPEG", "RGB"),
        "jpeg-progressive": _encoded("JPEG", "L", progressive=True), "tiff": _encoded("TIFF", "RGB"),
        "tiff-deflate": _encoded("TIFF", "RGBA", compression="tiff_adobe_deflate"),
        "tiff-pages": _pages("TIFF", "RGB"), "bmp": _encoded("BMP", "RGB"), "bmp-palette": _encoded("BMP", "P"),
        "gif": _encoded("GIF", "P"), "gif-frames": _pages("GIF", "P"), "ppm": _encoded("PPM", "RGB"),
        "pgm": _encoded("PPM", "L"), "webp": _encoded("WEBP", "RGB"), "webp-rgba": _encoded("WEBP", "RGBA"),
        "spider": _encoded("SPIDER", "F"), "dds": _encoded("DDS", "RGBA"), "ico": _encoded("ICO", "RGBA"),
        "tga": _encoded("TGA", "RGB"), "tga-rle": _encoded("TGA", "RGBA", compression="tga_rle"),
        "pcx": _encoded("PCX", "RGB"), "sgi": _encoded("SGI", "RGB"),
        "msp": _encoded("MSP", "1"), "xbm": _encoded("XBM", "1"), "qoi": _encoded("QOI", "RGB"),
        "blp": _encoded("BLP", "P"),
    }


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three random edits of the kinds that break parsers."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(("flip", "flip", "integer", "truncate", "insert", "repeat", "delete"))
        at = rng.randrange(len(data) or 1)
        if kind == "flip":
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= rng.randint(1, 255)
        elif kind == "integer":
            width = rng.choice((1, 2, 4))
            value = rng.choice(INTERESTING) & ((1 << 8 * width) - 1)
            data[at:at + width] = value.to_bytes(width, rng.choice(("little", "big")))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = rng.randbytes(rng.randint(1, 64))
        elif kind == "repeat":  # a copy of a chunk of the file itself: plausible structure
            start = rng.randrange(len(data) or 1)
            data[at:at] = data[start:start + rng.randint(1, 256)]
        else:
            del data[at:at + rng.randint(1, 64)]
        if not data:
            data = bytearray(b"\0")
    return bytes(data)


def cases(count: int):
    """``count`` (name, seed, bytes) cases spread evenly over the seed files."""
    seeds = seed_files()
    names = sorted(seeds)
    for index in range(count):
        name = names[index % len(names)]
        rng = random.Random(f"{name}:{index}")
        yield name, index, mutate(seeds[name], rng)


def read_outcome(path):
    """None when read_image keeps its contract (a Picture or ImageError), else the exception."""
    try:
        read_image(path, MAX_PIXELS)
    except ImageError:
        return None
    except Exception as err:  # the contract broken: report it with the case
        return err
    return None


def fuzz(tmp_path, count):
    path = tmp_path / "case"
    broken = []
    for name, index, data in cases(count):
        path.write_bytes(data)
        err = read_outcome(path)
        if err is not None:
            broken.append(f"{name} #{index}: {type(err).__name__}: {err}")
    assert not broken, f"{len(broken)} of {count} cases raised other than ImageError:\n" + "\n".join(broken[:20])


def test_seed_files_are_valid(tmp_path):
    for name, data in seed_files().items():
        (tmp_path / name).write_bytes(data)
        assert read_image(tmp_path / name).size == (16, 12), name


@pytest.mark.filterwarnings("ignore")  # Pillow warns about some damage; the outcome is what counts
def test_fuzzed_files_read_or_raise_image_error_quick(tmp_path):
    fuzz(tmp_path, 200)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_fuzzed_files_read_or_raise_image_error(tmp_path):
    fuzz(tmp_path, 4000)


def pillow_breaks(path) -> bool:
    """Pillow itself raises beyond OSError/ValueError/SyntaxError (what batch once let through)."""
    try:
        with Image.open(path) as image:
            getattr(image, "n_frames", 1)
            image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False
    except Exception:  # TypeError, KeyError, IndexError, struct.error, ...: what we are after
        return True
    return False


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_fuzzed_files_in_a_batch_fail_alone(tmp_path):
    """A real batch of good maps and fuzzed files on which Pillow raises odd exceptions: every good
    one written, every fuzzed one counted, exit 1, no traceback."""
    source = tmp_path / "in"
    source.mkdir()
    for i in range(12):
        Image.fromarray(make_map(32, 16, seed=i)).save(source / f"good{i:02d}.png")
    found = 0
    for name, index, data in cases(3000):
        path = source / f"fuzz_{name}_{index}.{name.split('-')[0]}"
        path.write_bytes(data)
        if pillow_breaks(path) and found < 6:
            found += 1
        else:
            path.unlink()
    assert found >= 3, "the mutator no longer finds files that make Pillow raise odd exceptions"
    run = subprocess.run([sys.executable, "-m", "polewarp", "batch", str(source / "*"), "-o", str(tmp_path / "out"),
                          "--format", "png", "--max-pixels", str(MAX_PIXELS), "-c", "2", "-q"],
                         env=run_env(), capture_output=True, text=True, timeout=240)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert f"converted 12, skipped 0, failed {found} of {12 + found}" in run.stdout, run.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"good{i:02d}.png" for i in range(12)]
    failures = [line for line in run.stderr.splitlines() if line.strip() and ": warning: " not in line]
    assert len(failures) == found and all(line.startswith(str(source / "fuzz_")) for line in failures), failures


def test_mutator_is_seeded_and_varied():
    """The same cases on every run (a failure can be replayed), and edits of every size."""
    first = [data for _, _, data in cases(60)]
    assert first == [data for _, _, data in cases(60)]
    assert np.unique([len(data) for data in first]).size > 10
