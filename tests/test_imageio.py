"""Image I/O: every mode through read, gather and write, what each format stores, atomic saves."""

import numpy as np
import pytest
from PIL import Image, ImageCms

from polewarp import GeometrySpec, apply_lut, build_lut
from polewarp.engine.errors import FormatError, ImageError, SpecError
from polewarp.engine.imageio import (
    FORMATS,
    PNG_ENCODER_VARIABLE,
    STORABLE,
    EncoderOptions,
    Picture,
    output_format,
    read_image,
    write_image,
)

LOSSY = {"JPEG", "WEBP"}
SIZE = (24, 12)


def make_image(mode, size=SIZE, seed=0):
    rng = np.random.default_rng(seed)
    width, height = size
    if mode == "1":
        return Image.fromarray(rng.random((height, width)) > 0.5)
    if mode == "P":
        image = Image.fromarray(rng.integers(0, 16, (height, width), dtype=np.uint8))
        image.putpalette(rng.integers(0, 256, 48, dtype=np.uint8).tobytes())
        return image
    bytes_per_pixel = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4, "I;16": 2, "I": 4, "F": 4}[mode]
    data = rng.integers(0, 256, width * height * bytes_per_pixel, dtype=np.uint8)
    if mode == "F":
        data = rng.random(width * height).astype(np.float32).view(np.uint8)
    if mode == "I":
        data = rng.integers(-2**31, 2**31 - 1, width * height, dtype=np.int32).view(np.uint8)
    return Image.frombytes(mode, size, data.tobytes())


EXTENSION = {fmt: ext for ext, fmt in reversed(list(FORMATS.items()))}
CASES = [(mode, fmt) for fmt, modes in STORABLE.items() for mode in sorted(modes)]


@pytest.mark.parametrize("mode,fmt", CASES)
def test_every_storable_mode_survives_the_identity(tmp_path, mode, fmt):
    source = tmp_path / f"in.{'tif'}"
    make_image(mode).save(source)
    picture = read_image(source)
    assert picture.mode == mode
    lut = build_lut(GeometrySpec(SIZE, heading=0, to="equirectangular"))
    target = tmp_path / f"out{EXTENSION[fmt]}"
    write_image(target, picture.with_pixels(apply_lut(lut, picture.pixels)))
    back = read_image(target)
    assert back.mode == mode and back.size == SIZE
    if fmt not in LOSSY:
        np.testing.assert_array_equal(back.pixels, picture.pixels)
        if mode == "P":
            assert back.palette.palette[:48] == picture.palette.palette[:48]


@pytest.mark.parametrize("mode,fmt", [("RGBA", "JPEG"), ("P", "JPEG"), ("F", "PNG"), ("RGB", "GIF"),
                                      ("I", "PNG"), ("CMYK", "PNG")])
def test_modes_a_format_cannot_store_are_usage_errors(tmp_path, mode, fmt):
    picture = Picture(np.zeros((2, 2, 1), np.uint8), mode)
    with pytest.raises(FormatError, match=f"{fmt} cannot store a {mode} image.*convert"):
        write_image(tmp_path / f"x{EXTENSION[fmt]}", picture)


def test_unknown_extension_is_a_usage_error():
    with pytest.raises(SpecError, match="unknown output extension '.xyz'"):
        output_format("map.xyz")


def test_icc_profile_and_dpi_are_kept(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = tmp_path / "in.png"
    make_image("RGB").save(source, icc_profile=icc, dpi=(300, 300))
    for ext in (".png", ".jpg", ".tif", ".webp"):
        write_image(tmp_path / f"out{ext}", read_image(source))
        with Image.open(tmp_path / f"out{ext}") as image:
            assert image.info.get("icc_profile") == icc, ext
            if ext != ".webp":
                assert tuple(round(v) for v in image.info["dpi"]) == (300, 300), ext


def test_extension_that_lies_is_read_by_content(tmp_path):
    path = tmp_path / "really_a_png.jpg"
    make_image("RGB").save(path, format="PNG")
    assert read_image(path).mode == "RGB"


@pytest.mark.parametrize("content,message", [
    (b"", "not an image"), (b"hello, world\n" * 10, "not an image"),
])
def test_unreadable_inputs(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message):
        read_image(path)


def test_truncated_input(tmp_path):
    path = tmp_path / "cut.png"
    make_image("RGB", (200, 100)).save(path)
    path.write_bytes(path.read_bytes()[:600])
    with pytest.raises(ImageError, match="cannot decode"):
        read_image(path)


def test_missing_input_and_folder(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="folder"):
        read_image(tmp_path)


def test_decompression_bomb_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    make_image("L", (4000, 3000)).save(path)
    with pytest.raises(ImageError, match="over the limit.*--max-pixels"):
        read_image(path, max_pixels=1_000_000)
    assert read_image(path, max_pixels=12_000_000).size == (4000, 3000)


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", fail)
    monkeypatch.setenv(PNG_ENCODER_VARIABLE, "pillow")  # polewarp's own PNG writer: tests/test_pngwrite.py
    with pytest.raises(ImageError, match="No space left"):
        write_image(target, read_image_for_test())
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def read_image_for_test():
    return Picture(np.zeros((2, 2, 3), np.uint8), "RGB")


def test_missing_output_folder(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        write_image(tmp_path / "no" / "out.png", read_image_for_test())


def test_png_level_is_polewarps_default(tmp_path):
    assert EncoderOptions().save_arguments("PNG", read_image_for_test())["compress_level"] == 1
    assert EncoderOptions(compress_level=9).save_arguments("PNG", read_image_for_test())["compress_level"] == 9
