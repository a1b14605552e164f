"""polewarp batch: planning, shared LUTs, bad files, reports, and the same pixels as convert."""

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from polewarp.cli import cli
from polewarp.engine.batch import convert_one, run_batch
from polewarp.engine.distributed import Scheduler, parse_scheduler
from polewarp.engine.errors import SpecError
from polewarp.engine.imageio import read_image
from polewarp.engine.plan import BatchItem, BatchSettings, plan

from .conftest import (
    make_map,
    polewarp_segments,
    run_env,
    slow_batch_folder,
    start_batch,
    wait_for_outputs,
    worker_processes,
)
from .damaged import palette_png_with_alpha, png_claiming_size, two_page_tiff_without_second_width


@pytest.fixture
def folder(tmp_path):
    """in/ with three 64x32 PNGs, one 40x20 JPEG, a corrupt PNG and a text file."""
    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(make_map(64, 32, seed=i)).save(source / f"m{i}.png")
    Image.fromarray(make_map(40, 20, seed=9)).save(source / "sub" / "small.jpg")
    (source / "bad.png").write_bytes(b"not really")
    (source / "notes.txt").write_text("not an image")
    return source


def convert_alone(runner, source, target, *extra):
    result = runner.invoke(cli, ["convert", str(source), "-o", str(target), *extra])
    assert result.exit_code == 0, result.output
    return read_image(target).pixels


def test_batch_converts_a_folder_like_convert_does(runner, folder, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(cli, ["batch", str(folder), "-o", str(out), "--workers", "2", "--heading", "30",
                                 "--report", str(tmp_path / "r.json")])
    assert result.exit_code == 1, result.output
    assert "converted 3, skipped 0, failed 1 of 4" in result.stdout
    assert "bad.png: not an image file" in result.stderr
    for i in range(3):
        alone = convert_alone(runner, folder / f"m{i}.png", tmp_path / f"alone{i}.png", "--heading", "30")
        np.testing.assert_array_equal(read_image(out / f"m{i}.png").pixels, alone)
    assert not (out / "sub").exists()
    report = json.loads((tmp_path / "r.json").read_text())
    assert {r["status"] for r in report} == {"converted", "failed"}
    assert all(r["bytes"] > 0 and r["size"] == [64, 32] for r in report if r["status"] == "converted")


def test_recursive_mirrors_subfolders_and_mixed_sizes_get_their_own_lut(runner, folder, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(cli, ["batch", str(folder), "-o", str(out), "--recursive", "--format", "png",
                                 "--name", "{stem}_tm.{ext}", "-q"])
    assert result.exit_code == 1
    alone = convert_alone(runner, folder / "sub" / "small.jpg", tmp_path / "small.png")
    np.testing.assert_array_equal(read_image(out / "sub" / "small_tm.png").pixels, alone)
    assert (out / "m0_tm.png").exists()


def test_globs_and_explicit_files(runner, folder, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(cli, ["batch", str(folder / "m*.png"), str(folder / "notes.txt"), "-o", str(out)])
    assert result.exit_code == 1
    assert "notes.txt: not an image" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["m0.png", "m1.png", "m2.png"]


def test_plan_refuses_collisions_overwrites_and_existing(folder, tmp_path):
    (folder / "sub" / "m0.png").write_bytes((folder / "m0.png").read_bytes())
    with pytest.raises(SpecError, match="one output"):
        plan([str(folder / "m0.png"), str(folder / "sub" / "m0.png")], tmp_path / "o")
    with pytest.raises(SpecError, match="must use"):
        plan([str(folder)], tmp_path / "o", "fixed.png")
    with pytest.raises(SpecError, match="write over an input"):
        plan([str(folder / "m0.png")], folder)
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "m0.png").write_bytes(b"x")
    with pytest.raises(SpecError, match="exists"):
        plan([str(folder / "m0.png")], tmp_path / "o")
    assert plan([str(folder / "m0.png")], tmp_path / "o", skip_existing=True)[0].skip
    assert not plan([str(folder / "m0.png")], tmp_path / "o", overwrite=True)[0].skip


def test_plan_problems_are_usage_errors_before_any_work(runner, folder, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "m1.png").write_bytes(b"keep me")
    result = runner.invoke(cli, ["batch", str(folder / "m*.png"), "-o", str(out)])
    assert result.exit_code == 2 and "m1.png exists" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["m1.png"]
    result = runner.invoke(cli, ["batch", str(folder / "m*.png"), "-o", str(out), "--skip-existing"])
    assert "converted 2, skipped 1, failed 0" in result.stdout and result.exit_code == 0
    assert (out / "m1.png").read_bytes() == b"keep me"
    result = runner.invoke(cli, ["batch", str(folder / "m*.png"), "-o", str(out), "--overwrite"])
    assert "converted 3" in result.stdout and read_image(out / "m1.png").size == (64, 32)


def test_dry_run_writes_nothing(runner, folder, tmp_path):
    result = runner.invoke(cli, ["batch", str(folder), "-o", str(tmp_path / "out"), "--dry-run", "--format", "jpg"])
    assert result.exit_code == 0
    assert "m0.png -> " in result.stdout and "m0.jpg" in result.stdout
    assert not (tmp_path / "out").exists()


def test_planning_starts_no_pool_and_loads_neither_numba_nor_dask():
    """Planning (and --dry-run with it) is pure: the pool, shared memory, numba and Dask belong to
    the run."""
    running = ["numba", "distributed", "multiprocessing.shared_memory", "concurrent.futures.process",
               "polewarp.engine.batch", "polewarp.engine.workers", "polewarp.engine.lut"]
    code = (f"import sys, polewarp.engine.plan, polewarp.engine.choices\n"
            f"print(sorted(set({running!r}) & set(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], env=run_env(), check=True, capture_output=True, text=True)
    assert loaded.stdout.strip() == "[]"


def test_batch_workers_are_the_image_pools_size(runner):
    """batch's -c sizes the pool converting images (its LUT builds with the default); convert's is the build's."""
    batch_help = runner.invoke(cli, ["batch", "--help"], terminal_width=200).stdout
    convert_help = runner.invoke(cli, ["convert", "--help"], terminal_width=200).stdout
    assert "Worker processes converting the images" in batch_help and "for the LUT build" not in batch_help
    assert "Worker processes (or threads) for the LUT build" in convert_help


@pytest.mark.parametrize("fail_fast", [True, False])
def test_fail_fast_stops_early(folder, tmp_path, fail_fast):
    """One worker takes the images in order, the bad one first: with the flag, what had not
    started when it failed never runs; without it, every good image is converted."""
    good = tmp_path / "good"
    good.mkdir()
    for i in range(16):
        Image.fromarray(make_map(320, 160, seed=i)).save(good / f"g{i:02d}.png")
    items = plan([str(folder / "bad.png"), str(good)], tmp_path / "o")
    results = run_batch(items, BatchSettings(), workers=1, fail_fast=fail_fast)
    assert results[0].status == "failed"
    converted = sum(result.status == "converted" for result in results)
    if fail_fast:  # the few handed to the worker in advance may finish; a busy machine, a few more
        assert converted <= 8
    else:
        assert converted == 16


def test_two_hundred_images_ten_corrupt(runner, tmp_path):
    source = tmp_path / "many"
    source.mkdir()
    for i in range(200):
        path = source / f"img{i:03d}.png"
        if i % 20 == 7:
            path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(30))
        else:
            Image.fromarray(make_map(24, 12, seed=i)).save(path)
    out = tmp_path / "out"
    result = runner.invoke(cli, ["batch", str(source), "-o", str(out), "-c", "2", "-q"])
    assert result.exit_code == 1
    assert "converted 190, skipped 0, failed 10 of 200" in result.stdout
    assert result.stderr.count("img") == 10
    assert len(list(out.iterdir())) == 190
    for i in (0, 1, 199):
        alone = convert_alone(runner, source / f"img{i:03d}.png", tmp_path / "alone.png")
        np.testing.assert_array_equal(read_image(out / f"img{i:03d}.png").pixels, alone)


@pytest.mark.slow
@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_batch(tmp_path, signum, code):
    source = slow_batch_folder(tmp_path, count=30)
    out = tmp_path / "out"
    before = polewarp_segments()
    process = start_batch(source, out, "-c", "2")
    wait_for_outputs(process, out)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "Traceback" not in err
    names = [p.name for p in out.iterdir()]
    assert all(name.endswith(".png") and not name.startswith(".") for name in names), names
    assert 0 < len(names) < 30
    for name in names:
        assert read_image(out / name).size == (1200, 600)
    assert polewarp_segments() - before == set()


@pytest.mark.slow
def test_killed_worker_has_its_images_retried(runner, tmp_path):
    source = slow_batch_folder(tmp_path, count=12)
    out = tmp_path / "out"
    process = start_batch(source, out, "-c", "2", "-q")
    wait_for_outputs(process, out, count=2)
    worker_processes(process)[0].kill()
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "converted 12, skipped 0, failed 0 of 12" in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in source.iterdir())
    alone = convert_alone(runner, source / "m05.png", tmp_path / "alone.png", "--compress-level", "9")
    np.testing.assert_array_equal(read_image(out / "m05.png").pixels, alone)


def twenty_good(tmp_path, mode="P"):
    """twenty/ with twenty small good PNGs."""
    source = tmp_path / "twenty"
    source.mkdir()
    for i in range(20):
        Image.fromarray(make_map(32, 16, seed=i)).convert(mode).save(source / f"g{i:02d}.png")
    return source


def test_any_exception_of_one_image_is_that_images_failure(runner, tmp_path):
    """Pillow raises TypeError on these two (reading one, writing the other as GIF): each is one
    counted failure of one line, and every good image is written."""
    source = twenty_good(tmp_path)
    palette_png_with_alpha(source / "alpha.png")
    two_page_tiff_without_second_width(source / "two.tif")
    out = tmp_path / "out"
    result = runner.invoke(cli, ["batch", str(source / "*"), "-o", str(out), "--format", "gif", "-c", "2", "-q"])
    assert result.exit_code == 1 and not isinstance(result.exception, TypeError), result.exception
    assert "converted 20, skipped 0, failed 2 of 22" in result.stdout
    assert len(list(out.glob("g*.gif"))) == 20 and not list(out.glob("[at]*"))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 2 and "Traceback" not in result.stderr, result.stderr
    assert any(line.startswith(f"{source / 'alpha.png'}: ") and "TypeError" in line for line in lines)
    assert any(line.startswith(f"{source / 'two.tif'}: ") for line in lines)


def test_an_unexpected_failure_keeps_its_traceback_for_debug(tmp_path):
    """The report record of an unexpected exception carries its traceback; the reason is one line."""
    source = two_page_tiff_without_second_width(tmp_path / "two.tif")
    result = convert_one(BatchItem(source, tmp_path / "two.png"), {}, BatchSettings())
    assert result.status == "failed" and "\n" not in result.reason
    assert result.details.startswith("Traceback") and "TypeError" in result.details
    result = convert_one(BatchItem(tmp_path / "none.png", tmp_path / "o.png"), {}, BatchSettings())
    assert result.status == "failed" and result.details is None  # an expected failure: no traceback


def test_damaged_headers_neither_stop_the_batch_nor_get_a_lut(runner, tmp_path):
    """A header claiming a size no LUT can serve (here: too wide for bilinear, or over
    --max-pixels) fails its image alone; no LUT is built for it."""
    source = twenty_good(tmp_path, "RGB")
    png_claiming_size(source / "wide.png", 2**24, 4)
    png_claiming_size(source / "big.png", 3000, 2000)
    result = runner.invoke(cli, ["batch", str(source), "-o", str(tmp_path / "out"), "--resample", "bilinear",
                                 "--max-pixels", "100000", "-q", "--time"])
    assert result.exit_code == 1, result.output
    assert "converted 20, skipped 0, failed 2 of 22" in result.stdout
    luts = [line for line in result.stderr.splitlines() if line.startswith("LUTs: ")]
    assert luts[0].startswith("LUTs: 32x16 ")
    assert len(luts) == 1 and "3000x2000" not in luts[0] and "16777216x4" not in luts[0], luts
    assert "wide.png: " in result.stderr and "big.png: " in result.stderr and "over the limit" in result.stderr


def out_dir_left(tmp_path):
    return (tmp_path / "out").exists()


BAD_OPTIONS = [
    (["--fill", "notacolor"], "--fill"),
    (["--fill", "rgb(300,0,0)"], "--fill"),
    (["--name", "{stem:x}"], "--name"),
    (["--name", "{stem!z}"], "--name"),
    (["--name", "{stem:>99999999999}"], "--name"),
    (["--name", "{stem}"], "--name"),
    (["--name", "{stem}.{ext}{other}"], "--name"),
    (["--name", "../x_{stem}.{ext}"], "outside the output folder"),
    (["--name", "/tmp/x_{stem}.{ext}"], "outside the output folder"),
    (["--name", "{stem}/../../{stem}.{ext}"], "outside the output folder"),
    (["--name", "{stem}" + "x" * 260 + ".{ext}"], "over 255 bytes"),
    (["--scheduler", "garbage"], "--scheduler"),
    (["--scheduler", "local:0"], "--scheduler"),
    (["--scheduler", "local:abc"], "--scheduler"),
    (["--scheduler", "tcp://"], "--scheduler"),
    (["--scheduler", "tcp://host:99999"], "--scheduler"),
    (["--scheduler", "tls://127.0.0.1:8786"], "--scheduler"),
    (["--scheduler", "ucx://127.0.0.1:8786"], "--scheduler"),
    (["--legacy", "--heading", "3"], "legacy"),
    (["--report", "IN/m0.png"], "--report"),
    (["--report", "OUT/m0.png"], "--report"),
    (["--report", "TMP/missing/r.json"], "--report"),
    (["--report", "OUT/"], "--report"),
]


@pytest.mark.parametrize("options,named", BAD_OPTIONS, ids=[" ".join(o) for o, _ in BAD_OPTIONS])
def test_bad_options_are_usage_errors_before_any_work(runner, folder, tmp_path, options, named):
    """Exit 2, one message naming the option, and nothing created or changed."""
    before = (folder / "m0.png").read_bytes()
    places = {"IN/": folder, "OUT/": tmp_path / "out", "TMP/": tmp_path}
    options = [next((str(places[p]) + "/" + o[len(p):] for p in places if o.startswith(p)), o) for o in options]
    result = runner.invoke(cli, ["batch", str(folder / "m*.png"), "-o", str(tmp_path / "out"), *options])
    assert result.exit_code == 2, result.output
    assert named in result.output and "Traceback" not in result.output
    assert not out_dir_left(tmp_path) and (folder / "m0.png").read_bytes() == before


def test_bad_scheduler_from_the_environment_is_a_usage_error(runner, folder, tmp_path, monkeypatch):
    monkeypatch.setenv("POLEWARP_SCHEDULER", "local:-1")
    result = runner.invoke(cli, ["batch", str(folder / "m*.png"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "--scheduler 'local:-1'" in result.output
    assert not out_dir_left(tmp_path)


def test_scheduler_addresses_are_checked_without_dask():
    assert parse_scheduler("local") == Scheduler(None)
    assert parse_scheduler("local:3") == Scheduler(None, 3)
    assert parse_scheduler("tcp://10.0.0.5") == Scheduler("tcp://10.0.0.5:8786")
    assert parse_scheduler("tcp://[::1]:9000") == Scheduler("tcp://[::1]:9000")
    assert parse_scheduler("tcp://sched.example.org:8786") == Scheduler("tcp://sched.example.org:8786")
    for text in ("tcp://a b:1", "tcp://user@host:1", "tcp://host:1/path", "http://host:1", "host:8786"):
        with pytest.raises(SpecError, match="--scheduler"):
            parse_scheduler(text)


@pytest.mark.parametrize("where,code,message", [
    ("{file}/out", 2, "is under"),
    ("{file}", 2, "is a file"),
    ("/dev/null/x", 2, "/dev/null, which is not a folder"),
    ("{loop}/out", 2, "a symlink loop"),
])
def test_impossible_out_dir_is_refused_before_any_work(runner, folder, tmp_path, where, code, message):
    (tmp_path / "afile").write_bytes(b"x")
    (tmp_path / "loop").symlink_to("loop")
    where = where.format(file=tmp_path / "afile", loop=tmp_path / "loop")
    result = runner.invoke(cli, ["batch", str(folder / "m*.png"), "-o", where])
    assert result.exit_code == code and message in result.output, result.output
    assert "Traceback" not in result.output and (tmp_path / "afile").read_bytes() == b"x"


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's sysfs")
def test_out_dir_that_cannot_be_made_is_one_line(runner, folder):
    """sysfs refuses new folders even to root: found when the folder is made, before any image."""
    result = runner.invoke(cli, ["batch", str(folder / "m*.png"), "-o", "/sys/polewarp-test/out", "-q"])
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        "Error: /sys/polewarp-test/out: cannot create the output folder: Operation not permitted"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("option", ["-o", "--report"])
def test_read_only_folder_is_refused_before_any_work(runner, folder, tmp_path, option):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    target = locked / ("out" if option == "-o" else "r.json")
    out = [] if option == "-o" else ["-o", str(tmp_path / "out")]
    result = runner.invoke(cli, ["batch", str(folder / "m*.png"), *out, option, str(target)])
    assert result.exit_code == 2 and "permission denied" in result.output, result.output
    assert not out_dir_left(tmp_path) and not list(locked.iterdir())


@pytest.mark.slow
def test_report_on_a_full_disk_is_one_line_and_the_outputs_stay(tmp_path):
    """RLIMIT_FSIZE stands in for a full disk: the images fit under it, the report does not."""
    source = tmp_path / "in"
    source.mkdir()
    for i in range(40):
        Image.fromarray(make_map(8, 4, seed=i)).save(source / f"image_with_a_long_name_{i:02d}.png")
    command = [sys.executable, "-m", "polewarp", "batch", str(source), "--no-cache", "-c", "1", "-q"]
    subprocess.run([*command, "-o", str(tmp_path / "warm")], env=run_env(), check=True, capture_output=True)

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    report = tmp_path / "r.json"
    run = subprocess.run([*command, "-o", str(tmp_path / "out"), "--report", str(report)], env=run_env(),
                         capture_output=True, text=True, timeout=120, preexec_fn=limit_file_size)
    assert run.returncode == 1, run.stderr
    assert run.stderr.strip() == f"Error: --report {report}: cannot write the report: File too large"
    assert "converted 40, skipped 0, failed 0 of 40" in run.stdout
    assert len(list((tmp_path / "out").iterdir())) == 40 and sorted(tmp_path.glob("*r.json*")) == []


def test_a_symlink_loop_among_the_inputs_fails_alone(runner, folder, tmp_path):
    (tmp_path / "loop.png").symlink_to("loop.png")
    result = runner.invoke(cli, ["batch", str(folder / "m*.png"), str(tmp_path / "loop.png"), "-o",
                                 str(tmp_path / "out"), "-q"])
    assert result.exit_code == 1 and "converted 3, skipped 0, failed 1 of 4" in result.stdout, result.output
    assert result.stderr.strip().startswith(f"{tmp_path / 'loop.png'}: ") and "symbolic links" in result.stderr


def test_report_into_the_output_folder_it_makes(runner, folder, tmp_path):
    out = tmp_path / "out" / "maps"
    result = runner.invoke(cli, ["batch", str(folder / "m*.png"), "-o", str(out), "--report", str(out / "r.json")])
    assert result.exit_code == 0, result.output
    assert len(json.loads((out / "r.json").read_text())) == 3


def test_out_dir_equal_to_the_input_folder_lists_each_file_once(runner, folder):
    result = runner.invoke(cli, ["batch", str(folder / "m*.png"), "-o", str(folder)])
    assert result.exit_code == 2
    for i in range(3):
        assert result.output.count(f"m{i}.png") == 1, result.output
    assert "--overwrite" not in result.output and "choose another -o/--out-dir" in result.output


@pytest.mark.slow
def test_a_fifo_among_the_inputs_is_refused_not_waited_for(tmp_path):
    source = twenty_good(tmp_path)
    os.mkfifo(source / "pipe.png")
    run = subprocess.run([sys.executable, "-m", "polewarp", "batch", str(source / "g*.png"),
                          str(source / "pipe.png"), "-o", str(tmp_path / "out"), "-q"],
                         env=run_env(), capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert "converted 20, skipped 0, failed 1 of 21" in run.stdout
    assert run.stderr.strip().startswith(f"{source / 'pipe.png'}: not a regular file")
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not any(p.name == "debug" for p in cli.params), reason="needs the root group's --debug")
def test_debug_shows_the_traceback_of_an_unexpected_failure(runner, tmp_path):
    source = twenty_good(tmp_path)
    two_page_tiff_without_second_width(source / "two.tif")
    arguments = ["batch", str(source / "*"), "-o", str(tmp_path / "out"), "--format", "png", "-q"]
    plain = runner.invoke(cli, arguments)
    assert plain.exit_code == 1 and "Traceback" not in plain.stderr
    assert f"{source / 'two.tif'}: " in plain.stderr and "run with --debug for details" in plain.stderr
    debug = runner.invoke(cli, ["--debug", *arguments, "--overwrite"])
    assert debug.exit_code == 1 and "Traceback" in debug.stderr and "Missing dimensions" in debug.stderr
