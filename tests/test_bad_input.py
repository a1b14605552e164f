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
from polewarp.engine import pngwrite
from polewarp.engine.imageio import PNG_ENCODER_VARIABLE, read_image

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


def run_cli(*args, cwd, preexec_fn=None, prefix=(), env=None):
    return subprocess.run([*prefix, sys.executable, "-m", "polewarp", *map(str, args)], env=env or run_env(),
                          cwd=cwd, capture_output=True, text=True, timeout=120, preexec_fn=preexec_fn)


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


@pytest.mark.parametrize("args,message", [  # the other option values: test_cli_convert.py
    (["--lat-limit", "-5"], "above 0"),
    (["--max-pixels", "0"], "--max-pixels"),
    (["--backend", "gpu"], "--backend"),
])
def test_nonsense_values(runner, map_file, tmp_path, args, message):
    source, _ = map_file
    result = invoke(runner, "convert", source, "-o", tmp_path / "o.png", *args)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "cache").exists()


# ---- every error reported once, in its command's own usage, naming its option -------------------

@pytest.mark.parametrize("args,usage,option", [
    (["convert", "--to", "equirectangular", "--lat-limit", "95"], "convert [OPTIONS] [INPUT]", "'--lat-limit'"),
    (["convert", "--from", "mercator", "--input-lat-limit", "90"], "convert [OPTIONS] [INPUT]",
     "'--from-lat-limit' / '--input-lat-limit'"),
    (["convert", "--supersample", "3"], "convert [OPTIONS] [INPUT]", "'--supersample'"),
    (["lut", "build", "--input-size", "64x32", "--lat-limit", "-5", "-o", "x.npy"], "lut build [OPTIONS]",
     "'--lat-limit'"),
])
def test_engine_refusals_name_the_option_in_the_commands_usage(runner, tmp_path, monkeypatch, args, usage, option):
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, *args)
    assert result.exit_code == 2, result.output
    assert f"Usage: cli {usage}" in result.output and f"Invalid value for {option}" in result.output
    assert list(tmp_path.iterdir()) == []


def test_unexpected_error_is_one_line_and_debug_shows_it(runner, map_file, tmp_path, monkeypatch):
    import polewarp.cli.convert

    def broken(*args, **kwargs):
        raise TypeError("unsupported operand")

    monkeypatch.setattr(polewarp.cli.convert, "convert_file", broken)
    source, _ = map_file
    result = invoke(runner, "convert", source, "-o", tmp_path / "o.png")
    assert result.exit_code == 1
    assert result.stderr == ("polewarp: unexpected error: TypeError: unsupported operand "
                             "(run with --debug for details)\n")
    result = runner.invoke(cli, ["--debug", "convert", str(source), "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 1 and "Traceback" in result.stderr and "in broken" in result.stderr


def test_end_of_input_is_one_line_not_aborted(runner, map_file, tmp_path, monkeypatch):
    import polewarp.cli.convert

    def truncated(*args, **kwargs):
        raise EOFError("ran out of input")

    monkeypatch.setattr(polewarp.cli.convert, "convert_file", truncated)
    result = invoke(runner, "convert", map_file[0], "-o", tmp_path / "o.png")
    assert result.exit_code == 1 and "Aborted" not in result.output
    assert result.stderr.count("\n") == 1 and "EOFError: ran out of input" in result.stderr


def _fail_in_worker(array, r0, r1):
    return 1 // 0


def test_a_workers_traceback_is_kept_and_shown_under_debug(runner, map_file, tmp_path, monkeypatch):
    from polewarp.engine.errors import WorkerError
    from polewarp.engine.workers import RowPool, SharedArray

    with SharedArray((4, 4), "uint8") as target, RowPool(target, _fail_in_worker, 1) as pool:
        with pytest.raises(WorkerError, match="ZeroDivisionError") as caught:
            pool.run([(0, 4)])
    assert "in _fail_in_worker" in caught.value.details and "1 // 0" in caught.value.details

    import polewarp.engine.pipeline

    def fails(*args, **kwargs):
        raise caught.value

    monkeypatch.setattr(polewarp.engine.pipeline, "obtain_lut", fails)
    args = ["convert", str(map_file[0]), "-o", str(tmp_path / "o.png")]
    plain = invoke(runner, *args)
    assert plain.exit_code == 1 and plain.stderr.count("\n") == 1 and "run with --debug" in plain.stderr
    debug = runner.invoke(cli, ["--debug", *args])
    assert debug.exit_code == 1 and "in the worker:" in debug.stderr and "in _fail_in_worker" in debug.stderr


def test_verbose_and_quiet(runner, map_file, tmp_path):
    import logging

    args = ["convert", str(map_file[0]), "-o", str(tmp_path / "o.png")]
    result = invoke(runner, "-v", *args)
    assert result.exit_code == 0 and "polewarp: LUT: built" in result.stderr
    assert logging.getLogger("polewarp").level == logging.DEBUG
    assert "LUT:" not in invoke(runner, *args).stderr
    assert invoke(runner, "-q", "-v", *args).exit_code == 2


def symlink_loop(folder, name):
    """folder/name -> folder/loop-name -> folder/name."""
    (folder / name).symlink_to(folder / f"loop-{name}")
    (folder / f"loop-{name}").symlink_to(folder / name)
    return folder / name


def test_symlink_loops_are_refused_before_the_work(runner, map_file, tmp_path):
    source, _ = map_file
    message = "a.png: Too many levels of symbolic links"
    for args in ([source, "-o", symlink_loop(tmp_path, "a.png")], [tmp_path / "a.png", "-o", tmp_path / "o.png"]):
        result = invoke(runner, "convert", *args)
        assert result.exit_code == 1 and message in result.stderr and result.stderr.count("\n") == 1
    lut = invoke(runner, "lut", "build", "--input-size", "64x32", "--cache", "-o", symlink_loop(tmp_path, "a.npy"))
    assert lut.exit_code == 1 and message.replace(".png", ".npy") in lut.stderr
    assert not (tmp_path / "cache").exists() and not (tmp_path / "o.png").exists()


def test_names_too_long_are_refused_before_the_work(runner, map_file, tmp_path):
    """256 bytes: the file system would refuse it only when the output is written."""
    source, _ = map_file
    message = "the name is 256 bytes, over the file system's 255"
    result = invoke(runner, "convert", source, "-o", tmp_path / ("x" * 252 + ".png"))
    assert result.exit_code == 1 and message in result.stderr and result.stderr.count("\n") == 1
    lut = invoke(runner, "lut", "build", "--input-size", "64x32", "--cache", "-o", tmp_path / ("x" * 252 + ".npy"))
    assert lut.exit_code == 1 and message in lut.stderr
    assert not (tmp_path / "cache").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["map.png"]


@pytest.mark.slow
def test_lut_build_into_a_missing_folder_or_past_the_file_size_limit(tmp_path):
    run = run_cli("lut", "build", "--input-size", "64x32", "-o", tmp_path / "no" / "l.npy", cwd=tmp_path)
    assert run.returncode == 1 and "'no' does not exist" in run.stderr.replace(str(tmp_path) + "/", "")
    assert "Traceback" not in run.stderr

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    run = run_cli("lut", "build", "--input-size", "512x256", "--no-cache", "-o", tmp_path / "l.npy", cwd=tmp_path,
                  preexec_fn=small_files)
    assert run.returncode == 1 and "l.npy: cannot write the LUT" in run.stderr and "Traceback" not in run.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_running_from_a_deleted_folder(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()

    def leave_a_deleted_folder():
        os.chdir(gone)
        os.rmdir(gone)

    # Python itself cannot start with a relative entry ("" included) on its path from a deleted folder.
    env = run_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, env["PYTHONPATH"].split(os.pathsep)))
    run = run_cli("convert", "-o", "o.png", cwd=tmp_path, preexec_fn=leave_a_deleted_folder, env=env)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr == "polewarp: the current folder no longer exists: cd to another one\n"


@pytest.mark.slow
def test_out_of_memory_says_how_much_and_what_to_lower(tmp_path):
    def little_memory():
        resource.setrlimit(resource.RLIMIT_AS, (2_000_000_000, 2_000_000_000))

    run = run_cli("lut", "build", "--input-size", "64x32", "--size", "30000x30000", "--backend", "serial",
                  "--no-cache", "-o", tmp_path / "l.npy", cwd=tmp_path, preexec_fn=little_memory)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "out of memory (Unable to allocate 3.35 GiB" in run.stderr and "lower --size" in run.stderr
    assert list(tmp_path.iterdir()) == []


# ---- option values checked before any work ------------------------------------------------------

@pytest.mark.parametrize("colour,message", [
    ("rgb(300,0,0)", "every component must be within 0-255"),
    ("hsv(0,200%,50%)", "every component must be within 0-255"),
    ("notacolor", "is not a colour"),
])
def test_bad_fill_is_a_usage_error_before_the_work(runner, map_file, tmp_path, colour, message):
    result = invoke(runner, "convert", map_file[0], "-o", tmp_path / "o.png", "--fill", colour)
    assert result.exit_code == 2 and "Invalid value for '--fill'" in result.output and message in result.output
    assert not (tmp_path / "cache").exists() and not (tmp_path / "o.png").exists()


# ---- hints that fit the case --------------------------------------------------------------------

def test_every_refused_mode_gets_a_conversion_the_format_takes():
    from polewarp.engine.errors import FormatError
    from polewarp.engine.imageio import MODES, STORABLE, check_storable

    for fmt, storable in STORABLE.items():
        for mode in set(MODES) - storable:
            with pytest.raises(FormatError) as caught:
                check_storable(mode, fmt)
            target = str(caught.value).rsplit("convert the input to ", 1)[1].removesuffix(" first")
            assert target in storable and target != mode, (mode, fmt, caught.value)


def test_show_without_a_display_says_so(runner, map_file, tmp_path, monkeypatch):
    if not sys.platform.startswith("linux"):
        pytest.skip("$DISPLAY is how Linux finds a viewer")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = invoke(runner, "convert", map_file[0], "-o", tmp_path / "o.png", "--show")
    assert result.exit_code == 0 and "--show: no display" in result.stderr and "o.png" in result.stderr


# ---- Ctrl-C at any moment of the start ----------------------------------------------------------

@pytest.mark.slow
def test_ctrl_c_during_start_up_is_one_line_and_130(tmp_path):
    """SIGINT at seeded random moments of the first 200 ms, while Python, click and numpy load.

    A signal that lands before the interpreter runs any polewarp code (Python's own start-up,
    site's .pth files) is out of polewarp's reach: such runs are counted apart.
    """
    import random
    import re
    import signal
    import time

    rng = random.Random(13)
    reached = 0
    for _ in range(20):
        process = subprocess.Popen([sys.executable, "-m", "polewarp", "--help"], env=run_env(), cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0, 0.2))
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        ours = "polewarp:" in err or re.search(r'File "[^"]*/polewarp/[^"]*\.py"', err)
        if process.returncode != 0 and not ours:
            continue  # before any polewarp code ran: Python's start-up, site's .pth files, runpy's search
        reached += 1
        assert process.returncode in (0, 130) and "Traceback" not in err, err
        assert process.returncode == 0 or err.splitlines()[-1].startswith("polewarp: interrupted")
    assert reached >= 10


# ---- damaged images, and inputs that are not files ----------------------------------------------

@pytest.mark.parametrize("error", [TypeError("bad tile"), KeyError(273), IndexError("list index out of range"),
                                   NotImplementedError("unsupported DDS"), AttributeError("no attribute 'tile'"),
                                   OverflowError("int too large"), ZeroDivisionError("division by zero"),
                                   EOFError(), ValueError("broken data stream")])
def test_whatever_the_decoder_or_encoder_raises_is_one_line_naming_the_file(runner, map_file, tmp_path,
                                                                            monkeypatch, error):
    from PIL import ImageFile

    source, _ = map_file

    def fail(*args, **kwargs):
        raise error

    with monkeypatch.context() as patch:
        patch.setattr(ImageFile.ImageFile, "load", fail)
        result = invoke(runner, "convert", source, "-o", tmp_path / "o.png")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert f"{source}: cannot decode the image" in result.stderr
    monkeypatch.setitem(Image.SAVE, "PNG", fail)  # Pillow's encoder and polewarp's own
    monkeypatch.setattr(pngwrite, "filter_rows", fail)
    for encoder in ("pillow", "polewarp"):
        monkeypatch.setenv(PNG_ENCODER_VARIABLE, encoder)
        result = invoke(runner, "convert", source, "-o", tmp_path / "o.png")
        assert result.exit_code == 1 and result.stderr.count("\n") == 1
        assert f"{tmp_path / 'o.png'}: cannot encode the image as PNG" in result.stderr
        assert not (tmp_path / "o.png").exists()


def small_files_of_every_format():
    """One tiny valid file per format Pillow reads and writes, as bytes."""
    import io

    pixels = make_map(9, 6)
    files = {}
    for fmt, mode in [("PNG", "RGB"), ("GIF", "P"), ("TIFF", "RGB"), ("BMP", "RGB"), ("PPM", "RGB"),
                      ("WEBP", "RGB"), ("JPEG", "RGB"), ("TGA", "RGB"), ("DDS", "RGB"), ("SPIDER", "F"),
                      ("ICO", "RGB"), ("PCX", "RGB")]:
        stream = io.BytesIO()
        Image.fromarray(pixels).convert(mode).save(stream, format=fmt)
        files[fmt] = stream.getvalue()
    return files


def mutated(data: bytes, rng) -> bytes:
    """``data`` with a few bytes changed, cut out or put in."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        at, choice = rng.randrange(len(data)), rng.random()
        if choice < 0.6:
            data[at] = rng.randrange(256)
        elif choice < 0.8:
            del data[at:at + rng.randint(1, 16)]
        else:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(data)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's metadata warnings on damaged TIFFs
def test_damaged_files_of_every_format_read_or_fail_with_image_error(tmp_path):
    """A seeded mutator over small valid files: the reader returns a picture or raises ImageError,
    nothing else (DDS's NotImplementedError and TIFF's TypeError were found this way)."""
    import random

    from polewarp.engine.errors import ImageError

    rng = random.Random(4)
    seeds = small_files_of_every_format()
    path = tmp_path / "damaged"
    for _ in range(3000):
        path.write_bytes(mutated(seeds[rng.choice(sorted(seeds))], rng))
        try:
            read_image(path)
        except ImageError as err:
            assert str(err).startswith(f"{path}: ") and "\n" not in str(err)


@pytest.mark.slow
def test_a_fifo_socket_or_device_input_is_refused_without_blocking(tmp_path):
    import socket

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    run = run_cli("convert", fifo, "-o", tmp_path / "o.png", cwd=tmp_path)  # a hang times out and fails
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr == f"Error: {fifo}: not a regular file (a pipe, socket or device?): give an image file\n"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock"))
    try:
        for special in (tmp_path / "sock", "/dev/zero", "/dev/stdin"):
            run = run_cli("convert", special, "-o", tmp_path / "o.png", cwd=tmp_path)
            assert run.returncode == 1 and "not a regular file" in run.stderr, run.stderr
    finally:
        server.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.png", "sock"]


def test_probe_header_reads_only_headers_of_regular_files(tmp_path, map_file):
    from polewarp.engine.imageio import probe_header

    source, _ = map_file
    assert probe_header(source).size == (64, 32)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opening it would block: probe_header must not
    (tmp_path / "junk.png").write_bytes(b"not an image")
    (tmp_path / "cut.png").write_bytes(source.read_bytes()[:20])
    for path in (fifo, tmp_path / "junk.png", tmp_path / "cut.png", tmp_path / "none.png", tmp_path):
        assert probe_header(path) is None
