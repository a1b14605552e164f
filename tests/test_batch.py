"""polewarp batch: planning, shared LUTs, bad files, reports, and the same pixels as convert."""

import json
import signal

import numpy as np
import pytest
from PIL import Image

from polewarp.cli import cli
from polewarp.engine.batch import BatchSettings, plan, run_batch
from polewarp.engine.errors import SpecError
from polewarp.engine.imageio import read_image

from .conftest import make_map, polewarp_segments, slow_batch_folder, start_batch, wait_for_outputs, worker_processes


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


def test_fail_fast_stops_early(folder, tmp_path):
    items = plan([str(folder / "bad.png")] + [str(folder / "m0.png")] * 1, tmp_path / "o")
    results = run_batch(items, BatchSettings({}), workers=1, fail_fast=True)
    assert results[0].status == "failed"


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
    source = slow_batch_folder(tmp_path)
    out = tmp_path / "out"
    process = start_batch(source, out, "-c", "2", "-q")
    wait_for_outputs(process, out, count=2)
    worker_processes(process)[0].kill()
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "converted 24, skipped 0, failed 0 of 24" in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in source.iterdir())
    alone = convert_alone(runner, source / "m05.png", tmp_path / "alone.png", "--compress-level", "9")
    np.testing.assert_array_equal(read_image(out / "m05.png").pixels, alone)
