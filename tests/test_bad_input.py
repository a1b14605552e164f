"""Bad input through the real CLI: a short message naming the culprit, the right exit code,
no traceback, no output file, no cache debris."""

import os
import resource
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from polewarp.cli import cli
from polewarp.engine.imageio import read_image

from .conftest import make_map, run_env


def invoke(runner, *args):
    result = runner.invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def without_file_override():
    """As root, a command prefix that drops the capabilities that bypass file permissions."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: permissions cannot be enforced")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", "--"]


def run_cli(*args, cwd, preexec_fn=None, prefix=()):
    return subprocess.run([*prefix, sys.executable, "-m", "polewarp", *map(str, args)], env=run_env(), cwd=cwd,
                          capture_output=True, text=True, timeout=120, preexec_fn=preexec_fn)


@pytest.mark.slow
def test_unreadable_input(tmp_path):
    source = tmp_path / "secret.png"
    Image.fromarray(make_map(8, 4)).save(source)
    os.chmod(source, 0)
    run = run_cli("convert", source, "-o", tmp_path / "o.png", "--no-cache", cwd=tmp_path,
                  prefix=without_file_override())
    assert run.returncode == 1 and "secret.png: permission denied" in run.stderr
    assert not (tmp_path / "o.png").exists()


@pytest.mark.slow
def test_unwritable_output_folder(tmp_path):
    source = tmp_path / "in.png"
    Image.fromarray(make_map(8, 4)).save(source)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    run = run_cli("convert", source, "-o", locked / "o.png", "--no-cache", cwd=tmp_path,
                  prefix=without_file_override())
    assert run.returncode == 1 and "cannot write" in run.stderr and "Permission denied" in run.stderr
    assert list(locked.iterdir()) == []


@pytest.mark.slow
def test_full_disk(tmp_path):
    source = tmp_path / "in.png"
    Image.fromarray(make_map(512, 256)).save(source)
    target = tmp_path / "o.tif"

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    run = run_cli("convert", source, "-o", target, "--no-cache", cwd=tmp_path, preexec_fn=small_files)
    assert run.returncode == 1 and "File too large" in run.stderr and "Traceback" not in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_unwritable_cache_does_not_fail_the_run(runner, map_file, tmp_path):
    source, _ = map_file
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    result = invoke(runner, "convert", source, "-o", tmp_path / "o.png", "--cache-dir", blocker / "c")
    assert result.exit_code == 0 and "going on without it" in result.stderr


def test_input_is_a_folder(runner, tmp_path):
    result = invoke(runner, "convert", tmp_path, "-o", tmp_path / "o.png")
    assert result.exit_code == 1 and "is a folder" in result.output


def test_output_is_a_folder(runner, map_file, tmp_path):
    source, _ = map_file
    (tmp_path / "o.png").mkdir()
    result = invoke(runner, "convert", source, "-o", tmp_path / "o.png")
    assert result.exit_code == 1 and "is a folder" in result.output


def test_batch_out_dir_is_a_file(runner, map_file, tmp_path):
    source, _ = map_file
    (tmp_path / "file").write_text("x")
    result = invoke(runner, "batch", source, "-o", tmp_path / "file")
    assert result.exit_code == 2 and "is a file" in result.output


@pytest.mark.parametrize("size", [(1, 1), (1, 7), (7, 1), (2, 1)])
def test_tiny_images_work(runner, tmp_path, size):
    source = tmp_path / "tiny.png"
    Image.fromarray(make_map(*size)).save(source)
    result = invoke(runner, "convert", source, "-o", tmp_path / "o.png")
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "o.png").size == size


def test_sides_beyond_uint16(runner, tmp_path):
    source = tmp_path / "wide.png"
    pixels = make_map(70000, 4)
    Image.fromarray(pixels).save(source)
    out = tmp_path / "o.png"
    result = invoke(runner, "convert", source, "-o", out, "--heading", "0", "--to", "equirectangular")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_image(out).pixels, pixels)


def test_decompression_bomb_and_its_option(runner, tmp_path):
    source = tmp_path / "bomb.png"
    Image.new("L", (3000, 2000)).save(source)
    result = invoke(runner, "convert", source, "-o", tmp_path / "o.png", "--max-pixels", "1000000")
    assert result.exit_code == 1 and "bomb.png: 3000x2000" in result.output and "--max-pixels" in result.output
    assert not (tmp_path / "o.png").exists()


def test_declared_billions_of_pixels_refused_before_decoding(runner, tmp_path):
    """A 100-byte PNG whose header claims 100000x100000 pixels."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    source = tmp_path / "huge.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) +
                       chunk(b"IEND", b""))
    result = invoke(runner, "convert", source, "-o", tmp_path / "o.png")
    assert result.exit_code == 1 and "10,000,000,000 pixels" in result.output


def test_multi_frame_uses_the_first_with_a_warning(runner, tmp_path):
    source = tmp_path / "anim.gif"
    frames = [Image.fromarray(make_map(16, 8, seed=i)).convert("P") for i in range(3)]
    frames[0].save(source, save_all=True, append_images=frames[1:])
    result = invoke(runner, "convert", source, "-o", tmp_path / "o.png", "--heading", "0",
                    "--to", "equirectangular")
    assert result.exit_code == 0 and "3 frames; using the first" in result.stderr
    np.testing.assert_array_equal(read_image(tmp_path / "o.png").pixels, read_image(source).pixels)


def test_cmyk_is_kept_where_the_format_can_and_refused_elsewhere(runner, tmp_path):
    source = tmp_path / "cmyk.tif"
    Image.fromarray(make_map(16, 8, channels=4), mode=None).convert("RGB").convert("CMYK").save(source)
    assert invoke(runner, "convert", source, "-o", tmp_path / "o.jpg").exit_code == 0
    assert read_image(tmp_path / "o.jpg").mode == "CMYK"
    result = invoke(runner, "convert", source, "-o", tmp_path / "o.png")
    assert result.exit_code == 2 and "PNG cannot store a CMYK image" in result.output


def test_unsupported_mode(runner, tmp_path):
    source = tmp_path / "ycc.jpg"
    Image.fromarray(make_map(16, 8)).convert("YCbCr").save(source.with_suffix(".tif"))
    result = invoke(runner, "convert", source.with_suffix(".tif"), "-o", tmp_path / "o.png")
    assert result.exit_code == 1 and "unsupported image mode YCbCr" in result.output


@pytest.mark.parametrize("args,message", [
    (["--center", "0,inf"], "finite"),
    (["--heading", "nan"], "finite"),
    (["--lat-limit", "-5"], "above 0"),
    (["--to", "equirectangular", "--lat-limit", "95"], "at most 90"),
    (["--from", "mercator", "--input-lat-limit", "90"], "below 90"),
    (["--workers", "-1"], "--workers"),
    (["--size", "10x0"], "at least 1 pixel"),
    (["--legacy", "--from", "mercator"], "legacy mode"),
    (["--max-pixels", "0"], "--max-pixels"),
    (["--backend", "gpu"], "--backend"),
])
def test_nonsense_values(runner, map_file, tmp_path, args, message):
    source, _ = map_file
    result = invoke(runner, "convert", source, "-o", tmp_path / "o.png", *args)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "cache").exists()
