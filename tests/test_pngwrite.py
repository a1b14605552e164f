"""The parallel PNG writer: Pillow reads back every mode bit-exactly, chunks round-trip, strips join
into one valid zlib stream, sizes stay near Pillow's, and a failed write leaves nothing behind."""

import errno
import io
import random
import struct
import subprocess
import sys
import threading
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, PngImagePlugin

from polewarp.data import default_map
from polewarp.engine import pngwrite
from polewarp.engine.errors import ImageError
from polewarp.engine.imageio import PNG_ENCODER_VARIABLE, EncoderOptions, Picture, read_image, write_image

from .conftest import make_map, run_env
from .test_faults import signal_when_ready
from .test_imageio import make_image

MODES = sorted(pngwrite.LAYOUTS)
SIZES = [(1, 1), (1, 9), (9, 1), (13, 5), (64, 33)]


@pytest.fixture(params=["isal", "zlib"])
def deflater(request, monkeypatch):
    """Both deflaters: ISA-L's when installed, and the zlib fallback."""
    if request.param == "zlib":
        monkeypatch.setattr(pngwrite, "isal_zlib", None)
    elif pngwrite.isal_zlib is None:
        pytest.skip("isal is not installed")
    return request.param


def chunks_of(data: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG's chunks, each CRC checked independently of Pillow."""
    assert data[:8] == pngwrite.SIGNATURE
    found, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0] == zlib.crc32(kind + body)
        found.append((kind, body))
        at += 12 + length
    assert found[-1] == (b"IEND", b"")
    return found


def decoded(data: bytes) -> Image.Image:
    """Pillow's reading of a PNG, after checking that its IDATs are one zlib stream (adler32 included)."""
    zlib.decompress(b"".join(body for kind, body in chunks_of(data) if kind == b"IDAT"))
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def source_image(mode, size, seed=0):
    image = make_image(mode, size, seed)
    if mode == "P":
        image.info["transparency"] = 3
    return image


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_mode_reads_back_bit_exactly(tmp_path, deflater, mode, size):
    source = tmp_path / "in.png"
    source_image(mode, size).save(source)
    picture = read_image(source)
    write_image(tmp_path / "out.png", picture)
    back = decoded((tmp_path / "out.png").read_bytes())
    with Image.open(source) as original:
        assert (back.mode, back.size) == (original.mode, original.size)
        assert back.tobytes() == original.tobytes()
        assert back.getpalette() == original.getpalette()
        assert back.info.get("transparency") == original.info.get("transparency")


@pytest.mark.parametrize("level", [0, 1, 2, 6, 9])
def test_every_level_is_a_valid_stream_with_its_header(deflater, level):
    pixels = np.asarray(make_image("RGB", (50, 40)))
    stream = io.BytesIO()
    pngwrite.save(stream, pixels, "RGB", None, {"compress_level": level})
    idat = b"".join(body for kind, body in chunks_of(stream.getvalue()) if kind == b"IDAT")
    assert idat[:2] == zlib.compress(b"", level)[:2]  # FLEVEL as zlib writes it
    assert np.array_equal(np.asarray(decoded(stream.getvalue())), pixels)


@settings(max_examples=60, deadline=None)
@given(mode=st.sampled_from(MODES), width=st.integers(1, 40), height=st.integers(1, 30),
       strip_bytes=st.sampled_from([1, 7, 100, 1 << 16]), threads=st.sampled_from([1, 2, 3]),
       cuts=st.lists(st.integers(1, 30), max_size=4), level=st.sampled_from([1, 6]), seed=st.integers(0, 2**16))
def test_random_images_in_random_blocks_and_strips(mode, width, height, strip_bytes, threads, cuts, level, seed):
    image = make_image(mode, (width, height), seed)
    pixels = np.asarray(image)
    palette = image.getpalette() if mode == "P" else None
    stream = io.BytesIO()
    bounds = sorted({0, height, *(c for c in cuts if c < height)})
    with pngwrite.PngWriter(stream, width, height, mode, palette=palette and bytes(palette), level=level,
                            threads=threads, strip_bytes=strip_bytes) as writer:
        for start, stop in zip(bounds, bounds[1:], strict=False):
            writer.write_rows(pixels[start:stop])
        writer.close()
    back = decoded(stream.getvalue())
    assert back.mode == mode and back.tobytes() == image.tobytes()


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_adler32_combines_as_zlib_computes_it_whole(first, second):
    combined = pngwrite.adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
    assert combined == zlib.adler32(first + second)


def test_chunks_round_trip_as_pillow_writes_them(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    info = PngImagePlugin.PngInfo()
    info.add_text("polewarp", "0.5")
    info.add_itxt("geometry", '{"projection": "mercator", "centre": "ümlaut"}', lang="en", tkey="Geometrie")
    info.add_text("note", "long " * 50, zip=True)
    cases = [("RGB", {"transparency": (1, 2, 3)}), ("L", {"transparency": 7}), ("P", {"transparency": 2}),
             ("P", {"transparency": bytes([0, 128, 255, 9])}), ("I;16", {"transparency": 300}), ("RGBA", {})]
    for mode, extra in cases:
        image = make_image(mode, (20, 10))
        arguments = {"compress_level": 1, "icc_profile": icc, "dpi": (300, 150), "pnginfo": info, **extra}
        assert pngwrite.takes(arguments)
        theirs = io.BytesIO()
        image.save(theirs, "PNG", **arguments)
        ours = io.BytesIO()
        pngwrite.save(ours, np.asarray(image), mode, image.palette, arguments)
        header = [c for c in chunks_of(ours.getvalue()) if c[0] not in (b"IDAT", b"IEND")]
        assert header == [c for c in chunks_of(theirs.getvalue()) if c[0] not in (b"IDAT", b"IEND")], mode
        back = decoded(ours.getvalue())
        assert back.info == Image.open(theirs).info and back.tobytes() == image.tobytes(), mode


def test_what_it_does_not_store_goes_to_pillow(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add(b"bKGD", b"\0\1")
    assert not pngwrite.takes({"pnginfo": info})
    assert not pngwrite.takes({"exif": b""})
    picture = Picture(np.zeros((4, 4, 3), np.uint8), "RGB", info={"pnginfo": info})
    write_image(tmp_path / "out.png", picture)
    assert b"bKGD" in (tmp_path / "out.png").read_bytes()


def test_the_variable_gives_pillows_own_bytes(tmp_path, monkeypatch):
    image = make_image("RGB", (30, 20))
    picture = Picture(np.asarray(image), "RGB")
    monkeypatch.setenv(PNG_ENCODER_VARIABLE, "pillow")
    write_image(tmp_path / "out.png", picture)
    expected = io.BytesIO()
    image.save(expected, "PNG", compress_level=1)
    assert (tmp_path / "out.png").read_bytes() == expected.getvalue()


@pytest.mark.parametrize("level", [1, 6])
def test_sizes_within_a_tenth_of_pillows(level):
    with Image.open(default_map()) as world:
        rgb = world.convert("RGB").resize((512, 256))
    # maps: a photographic one, its grey, a flat-coloured one; a smooth gradient where Paeth is
    # tried (below, Paeth's left out, a small one is a third larger: docs/performance.md)
    images = [rgb, rgb.convert("L"), rgb.quantize(8).convert("RGB")]
    if level >= pngwrite.PAETH_FROM_LEVEL:
        images.append(Image.linear_gradient("L").resize((512, 256)).convert("RGB"))
    for image in images:
        theirs, ours = io.BytesIO(), io.BytesIO()
        image.save(theirs, "PNG", compress_level=level)
        pngwrite.save(ours, np.asarray(image), image.mode, None, {"compress_level": level}, threads=2)
        assert len(ours.getvalue()) <= 1.1 * len(theirs.getvalue()), (image.mode, level)


def test_a_palette_index_beyond_a_small_palette_is_refused(tmp_path):
    picture = Picture(np.full((2, 3, 1), 5, np.uint8), "P", palette=make_image("P").palette)
    picture.palette.palette = picture.palette.palette[:12]  # 4 colours: 2 bits a pixel
    with pytest.raises(ImageError, match="cannot encode.*beyond the palette"):
        write_image(tmp_path / "out.png", picture)
    assert list(tmp_path.iterdir()) == []


def test_rows_must_fit_the_image():
    writer = pngwrite.PngWriter(io.BytesIO(), 4, 2, "L")
    with writer, pytest.raises(ValueError, match="3 rows written to a PNG 2 rows high"):
        writer.write_rows(np.zeros((3, 4), np.uint8))
    with writer, pytest.raises(ValueError, match="0 rows written"):
        writer.close()
    with pytest.raises(ValueError, match=r"rows of shape \(5, 1\)"):
        pngwrite.PngWriter(io.BytesIO(), 4, 2, "L").write_rows(np.zeros((1, 5), np.uint8))


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_a_failing_strip_or_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, failure):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    calls = []

    def deflate(*args):
        calls.append(args)
        if len(calls) == 3:  # in a thread, with strips before and after it under way
            raise failure
        return real(*args)

    real = pngwrite._deflate_strip
    monkeypatch.setattr(pngwrite, "_deflate_strip", deflate)
    monkeypatch.setattr(pngwrite, "STRIP_BYTES", 3 * 64)
    before = threading.active_count()
    with pytest.raises(ImageError if isinstance(failure, OSError) else KeyboardInterrupt):
        write_image(target, Picture(np.zeros((64, 64, 3), np.uint8), "RGB"))
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    assert threading.active_count() == before


def test_a_full_disk_while_writing_idat_leaves_nothing(tmp_path, monkeypatch):
    def full(self, result, final):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pngwrite.PngWriter, "_emit", full)
    with pytest.raises(ImageError, match="cannot write: No space left"):
        write_image(tmp_path / "out.png", Picture(np.zeros((8, 8, 3), np.uint8), "RGB"), EncoderOptions(9))
    assert list(tmp_path.iterdir()) == []


def convert_signalled(command, target, delay=None):
    """``signal_when_ready`` for a convert to ``target``."""
    return signal_when_ready(subprocess.Popen(command + ["-o", str(target)], env=run_env(), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True), delay)


@pytest.mark.slow
def test_a_signal_during_a_convert_leaves_a_whole_png_or_nothing(tmp_path):
    source = tmp_path / "in.png"
    Image.fromarray(make_map(1024, 512)).save(source, compress_level=0)
    command = [sys.executable, "-m", "polewarp", "-q", "convert", str(source), "--compress-level", "9",
               "--cache-dir", str(tmp_path / "cache")]
    convert_signalled(command, tmp_path / "whole.png")  # builds the LUT: the runs below are mostly the write
    code, err, seconds = convert_signalled(command, tmp_path / "whole.png")
    assert code == 0, err
    with Image.open(tmp_path / "whole.png") as whole:
        expected = whole.tobytes()
    rng = random.Random(17)
    codes = []
    for run in range(4):
        target = tmp_path / f"r{run}.png"
        code, err, _ = convert_signalled(command, target, rng.uniform(0, 1.2 * seconds))
        codes.append(code)
        assert code in (0, 143) and "Traceback" not in err, err
        if target.exists():  # the signal came after the file was in place (and maybe before the exit)
            assert decoded(target.read_bytes()).tobytes() == expected
            target.unlink()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "in.png", "whole.png"]
    assert 143 in codes, codes  # the moments fell inside the run
