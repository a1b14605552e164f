"""polewarp convert through CliRunner (exit codes and messages) and once as a real subprocess."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from polewarp import GeometrySpec, build_lut
from polewarp.cli import cli
from polewarp.engine.imageio import read_image

from . import reference
from .conftest import make_map, run_env


def test_default_job_uses_the_embedded_map(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["convert"])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "ShiftedPoleMap.png") as image:
        assert image.size == (2048, 1024) and image.mode == "RGB"


def test_the_embedded_map_is_the_data_packages():
    """default_map() is the world map of the polewarp.data package (which the wheel ships)."""
    import polewarp.data
    from polewarp.data import default_map

    path = default_map()
    assert path.is_file() and path.parent == Path(polewarp.data.__file__).parent
    with Image.open(path) as image:
        assert image.size == (2048, 1024)


def test_output_is_the_gathered_input(runner, map_file, tmp_path):
    source, pixels = map_file
    out = tmp_path / "out.png"
    result = runner.invoke(cli, ["convert", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    lut = reference.accurate_lut(64, 32)
    np.testing.assert_array_equal(read_image(out).pixels, pixels[lut[..., 0], lut[..., 1]])


def test_old_scripts_flags_still_work(runner, map_file, tmp_path):
    source, pixels = map_file
    out = tmp_path / "legacy.png"
    result = runner.invoke(cli, ["convert", "-i", str(source), "-o", str(out), "-c", "2", "-n", "3",
                                 "-t", "-d", "--legacy"])
    assert result.exit_code == 0, result.output
    assert "lut" in result.stderr and "gather" in result.stderr and "built" in result.stderr
    lut = reference.legacy_lut(64, 32)
    np.testing.assert_array_equal(read_image(out).pixels, pixels[lut[..., 0], lut[..., 1]])


def test_time_says_cache_on_second_run(runner, map_file, tmp_path):
    source, _ = map_file
    args = ["convert", str(source), "-o", str(tmp_path / "o.png"), "--time"]
    assert "built" in runner.invoke(cli, args).stderr
    assert "cache" in runner.invoke(cli, args).stderr


def test_help_and_version(runner):
    assert runner.invoke(cli, ["-h"]).exit_code == 0
    assert "--rows-per-task" in runner.invoke(cli, ["convert", "-h"]).output
    assert runner.invoke(cli, ["--version"]).output.startswith("polewarp, version")


@pytest.mark.parametrize("ext", ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "ppm", "webp"])
def test_every_output_format(runner, map_file, tmp_path, ext):
    source, _ = map_file
    out = tmp_path / f"o.{ext}"
    assert runner.invoke(cli, ["convert", str(source), "-o", str(out)]).exit_code == 0
    assert read_image(out).size == (64, 32)


def test_existing_output_is_replaced(runner, map_file, tmp_path):
    source, _ = map_file
    out = tmp_path / "o.png"
    out.write_bytes(b"old")
    assert runner.invoke(cli, ["convert", str(source), "-o", str(out)]).exit_code == 0
    assert read_image(out).size == (64, 32)


def test_lut_export_and_reuse(runner, map_file, tmp_path):
    source, _ = map_file
    npy = tmp_path / "t.npy"
    geometry = ["--center", "30,40", "--heading", "10", "--to", "equirectangular", "--size", "50x25"]
    result = runner.invoke(cli, ["lut", "build", "--input-size", "64x32", *geometry, "-o", str(npy)])
    assert result.exit_code == 0, result.output
    table = np.load(npy)
    expected = build_lut(GeometrySpec((64, 32), center=(30, 40), heading=10, to="equirectangular",
                                      output_size=(50, 25))).array
    np.testing.assert_array_equal(table, expected)
    assert (tmp_path / "t.json").exists()
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert runner.invoke(cli, ["convert", str(source), "-o", str(a), "--lut", str(npy)]).exit_code == 0
    assert runner.invoke(cli, ["convert", str(source), "-o", str(b), *geometry]).exit_code == 0
    np.testing.assert_array_equal(read_image(a).pixels, read_image(b).pixels)


def test_lut_for_another_size_or_without_sidecar_is_refused(runner, tmp_path):
    npy = tmp_path / "t.npy"
    runner.invoke(cli, ["lut", "build", "--input-size", "10x5", "-o", str(npy)])
    other = tmp_path / "other.png"
    Image.fromarray(make_map(12, 6)).save(other)
    result = runner.invoke(cli, ["convert", str(other), "-o", str(tmp_path / "o.png"), "--lut", str(npy)])
    assert result.exit_code == 2 and "10x5 input, not 12x6" in result.output
    (tmp_path / "t.json").unlink()
    result = runner.invoke(cli, ["convert", str(other), "-o", str(tmp_path / "o.png"), "--lut", str(npy)])
    assert result.exit_code == 1 and "sidecar t.json is missing" in result.output


def test_lut_into_cache(runner, map_file, tmp_path):
    source, _ = map_file
    result = runner.invoke(cli, ["lut", "build", "--input-size", "64x32", "--cache"])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(cli, ["cache", "list"])
    assert "equirectangular 64x32 -> mercator 64x32" in listing.output
    key = listing.output.split()[0]
    info = runner.invoke(cli, ["cache", "info", key[:6]])
    assert info.exit_code == 0 and "heading" in info.output
    assert "cache" in runner.invoke(cli, ["convert", str(source), "-o", str(tmp_path / "o.png"), "-t"]).stderr
    assert "removed 1 entry" in runner.invoke(cli, ["cache", "clear"]).output


# --- bad input: exit 2 for the invocation, 1 for the run ----------------------------------------

@pytest.mark.parametrize("args,message", [
    (["-o", "out.xyz"], "unknown output extension '.xyz'"),
    (["--workers", "0"], "--workers"),
    (["--rows-per-task", "-3"], "--rows-per-task"),
    (["--center", "95,0"], "latitude must be within"),
    (["--center", "nan,0"], "finite"),
    (["--heading", "inf"], "finite"),
    (["--lat-limit", "90"], "below 90"),
    (["--size", "0x10"], "at least 1 pixel"),
    (["--size", "big"], "is not W[xH]"),
    (["--legacy", "--heading", "10"], "legacy mode"),
    (["--quality", "0"], "--quality"),
    (["--compress-level", "10"], "--compress-level"),
    (["--fill", "notacolour"], "Invalid value for '--fill'"),
    (["--lut", "x.npy", "--heading", "3"], "--lut brings its own geometry"),
    (["--from", "moll", "--input-lat-limit", "80"], "does not apply to mollweide"),
    (["--to", "molweide"], "unknown projection 'molweide' (did you mean mollweide?); known: mercator,"),
    (["--from", "stereo"], "did you mean stere"),
    (["--to", "mollweide", "--radius", "30"], "'--radius': radius does not apply to mollweide"),
    (["--to", "robin", "--lat-ts", "10"], "'--lat-ts': lat ts does not apply to robinson"),
    (["--to", "gnomonic", "--radius", "90"], "gnomonic radius must be above 0 and below 90 degrees"),
    (["--from", "ortho", "--from-radius", "95"], "'--from-radius': orthographic radius must be above 0"),
    (["--to", "cea", "--lat-ts", "90"], "standard parallel must be between -90 and 90"),
    (["--legacy", "--to", "mollweide"], "legacy mode"),
    (["--legacy", "--from-center", "10,0"], "legacy mode"),
    (["--size", "10x"], "is not W[xH]"),
])
def test_bad_options_are_usage_errors(runner, map_file, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    source, _ = map_file
    result = runner.invoke(cli, ["convert", str(source), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.glob("out*")) and not (tmp_path / "ShiftedPoleMap.png").exists()


def test_input_given_twice(runner, map_file):
    source, _ = map_file
    result = runner.invoke(cli, ["convert", str(source), "-i", str(source)])
    assert result.exit_code == 2 and "not both" in result.output


def test_output_over_input_is_refused(runner, map_file):
    source, _ = map_file
    before = source.read_bytes()
    result = runner.invoke(cli, ["convert", str(source), "-o", str(source)])
    assert result.exit_code == 2 and "write over the input" in result.output
    assert source.read_bytes() == before


@pytest.mark.parametrize("content", [b"", b"not an image", None])
def test_bad_input_files_fail_cleanly(runner, tmp_path, content):
    source = tmp_path / "in.png"
    if content is not None:
        source.write_bytes(content)
    out = tmp_path / "o.png"
    result = runner.invoke(cli, ["convert", str(source), "-o", str(out)])
    assert result.exit_code == 1 and str(source) in result.output
    assert not out.exists()


def test_mode_the_format_cannot_store(runner, tmp_path):
    source = tmp_path / "rgba.png"
    Image.fromarray(make_map(8, 4, channels=4)).save(source)
    result = runner.invoke(cli, ["convert", str(source), "-o", str(tmp_path / "o.jpg")])
    assert result.exit_code == 2 and "JPEG cannot store a RGBA image" in result.output


def test_missing_output_folder(runner, map_file, tmp_path):
    source, _ = map_file
    result = runner.invoke(cli, ["convert", str(source), "-o", str(tmp_path / "no" / "o.png")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_fill_colour_and_transparency(runner, tmp_path):
    rgba = tmp_path / "rgba.png"
    Image.fromarray(make_map(90, 45, channels=4)).save(rgba)
    out = tmp_path / "o.png"
    args = ["convert", str(rgba), "-o", str(out), "--from", "mercator"]
    assert runner.invoke(cli, args).exit_code == 0
    lut = build_lut(GeometrySpec((90, 45), source="mercator")).array
    missing = lut[..., 0] == 65535
    assert missing.any() and (read_image(out).pixels[missing] == 0).all()
    assert runner.invoke(cli, [*args, "--fill", "#ff000080"]).exit_code == 0
    assert (read_image(out).pixels[missing] == [255, 0, 0, 128]).all()


@pytest.mark.slow
def test_real_subprocess(tmp_path, map_file):
    source, pixels = map_file
    out = tmp_path / "o.png"
    run = subprocess.run([sys.executable, "-m", "polewarp", "convert", str(source), "-o", str(out),
                          "--time", "--workers", "2", "--backend", "processes"],
                         env=run_env(), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "gather" in run.stderr
    lut = reference.accurate_lut(64, 32)
    np.testing.assert_array_equal(read_image(out).pixels, pixels[lut[..., 0], lut[..., 1]])
    bad = subprocess.run([sys.executable, "-m", "polewarp", "convert", str(tmp_path / "none.png")],
                         env=run_env(), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert bad.returncode == 1 and "no such file" in bad.stderr and "Traceback" not in bad.stderr
