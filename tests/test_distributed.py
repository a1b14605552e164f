"""batch on a real Dask cluster (LocalCluster, worker processes on loopback): the same outputs as
the local batch, both LUT transfers, a killed worker, Ctrl-C, and no Dask without --scheduler."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from polewarp.cli import cli

from .conftest import make_map, run_env, slow_batch_folder, start_batch, wait_for_outputs, worker_processes

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def importable_in_workers(monkeypatch):
    """Spawned Dask workers import polewarp from this tree."""
    monkeypatch.setenv("PYTHONPATH", run_env()["PYTHONPATH"])


@pytest.fixture
def maps(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    for i in range(6):
        Image.fromarray(make_map(64, 32, seed=i)).save(source / f"m{i}.png")
    Image.fromarray(make_map(40, 20, seed=7)).save(source / "other_size.png")
    (source / "bad.png").write_bytes(b"broken")
    return source


def outputs(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("transfer", ["cache", "scatter"])
def test_dask_batch_equals_local_batch(runner, maps, tmp_path, transfer):
    local = runner.invoke(cli, ["batch", str(maps), "-o", str(tmp_path / "local"), "-q", "--heading", "40"])
    result = runner.invoke(cli, ["batch", str(maps), "-o", str(tmp_path / "dask"), "-q", "--heading", "40",
                                 "--scheduler", "local:2", "--lut-transfer", transfer, "--time",
                                 "--report", str(tmp_path / "r.json")])
    assert result.exit_code == local.exit_code == 1, result.output
    assert "converted 7, skipped 0, failed 1 of 8" in result.stdout
    assert "bad.png: not an image file" in result.stderr
    assert ("scattered" if transfer == "scatter" else "worker caches") in result.stderr
    assert outputs(tmp_path / "dask") == outputs(tmp_path / "local")
    assert len(json.loads((tmp_path / "r.json").read_text())) == 8


def test_worker_that_cannot_see_an_input_fails_early(tmp_path):
    from polewarp.engine.distributed import check_visible, connect
    from polewarp.engine.errors import PolewarpError
    from polewarp.engine.plan import BatchItem

    with connect("local:1") as client:
        with pytest.raises(PolewarpError, match="cannot see .*nowhere.png.*filesystem every worker"):
            check_visible(client, [BatchItem(tmp_path / "nowhere.png", tmp_path / "o.png")])


def test_missing_dask_is_a_clear_message(runner, maps, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    result = runner.invoke(cli, ["batch", str(maps), "-o", str(tmp_path / "o"), "--scheduler", "local:1"])
    assert result.exit_code == 1 and "pip install 'polewarp[distributed]'" in result.output


def test_local_batch_never_imports_dask(maps, tmp_path):
    code = ("import sys\nfrom polewarp.cli import cli\ncli.main(sys.argv[1:], standalone_mode=False)\n"
            "assert 'distributed' not in sys.modules and 'dask' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code, "batch", str(maps), "-o", str(tmp_path / "o"), "-q"],
                   env=run_env(), check=True, capture_output=True)


def test_killed_worker_has_its_images_retried(runner, tmp_path):
    source = slow_batch_folder(tmp_path, count=12)
    out = tmp_path / "out"
    process = start_batch(source, out, "--scheduler", "local:2", "-q")
    wait_for_outputs(process, out, count=2)
    workers = worker_processes(process)
    assert len(workers) >= 2
    workers[0].kill()
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "converted 12, skipped 0, failed 0 of 12" in stdout
    # The inputs are one map under twelve names: every output must be the bytes of its conversion.
    alone = runner.invoke(cli, ["convert", str(source / "m00.png"), "-o", str(tmp_path / "alone.png"),
                                "--compress-level", "9"])
    assert alone.exit_code == 0
    assert outputs(out) == {name: (tmp_path / "alone.png").read_bytes() for name in outputs(source)}


def test_ctrl_c_cancels_and_leaves_no_partial_output(tmp_path):
    source = slow_batch_folder(tmp_path)
    out = tmp_path / "out"
    process = start_batch(source, out, "--scheduler", "local:2", "-q")
    wait_for_outputs(process, out, count=2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    names = [p.name for p in out.iterdir()]
    assert names and all(not name.startswith(".") for name in names), names
    assert len(names) < 24


def test_unexpected_exception_in_a_task_is_one_line_with_details(maps, tmp_path, monkeypatch):
    """A task that raises (here: a bug planted in the worker's conversion) fails its image with a
    one-line reason and keeps the worker's traceback for --debug; the other images go on."""
    from polewarp.engine import distributed as engine
    from polewarp.engine.plan import BatchSettings, plan

    def planted(item, luts, settings):
        if item.input.name == "m3.png":
            raise RuntimeError("planted\nsecond line")
        return convert_one(item, luts, settings)

    convert_one = engine.convert_one
    monkeypatch.setattr(engine, "convert_one", planted)  # the workers are threads of this process
    items = plan([str(maps / "m*.png")], tmp_path / "out")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  **engine.NO_DASHBOARD) as cluster, distributed.Client(cluster) as client:
        results = engine.run_batch_dask(client, items, BatchSettings())
    failed = [result for result in results if result.status == "failed"]
    assert [r.input for r in failed] == [str(maps / "m3.png")]
    assert failed[0].reason == "task failed: RuntimeError: planted"
    assert "Traceback" in failed[0].details and "planted" in failed[0].details
    assert sum(result.status == "converted" for result in results) == 5
