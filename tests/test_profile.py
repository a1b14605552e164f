"""polewarp profile: the tables, JSON and CSV records, bad lists, and the plot's optional extra."""

import csv
import io
import json

import pytest

from polewarp.cli import cli

SMALL = ["profile", "--size", "64x32", "--workers", "1,2", "--rows-per-task", "3,auto", "--repeat", "2"]


def test_tables_in_the_old_scripts_layout(runner):
    result = runner.invoke(cli, SMALL + ["--backend", "threads,serial"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("# ") and "physical" in out and "numba" in out
    assert "## 64x32, threads: seconds per LUT build" in out and "## 64x32, serial" in out
    assert "rows/task" in out and "best:" in out and "auto with 2 workers" in out
    assert "gather 64x32 RGB, numba" in out


def test_json_records(runner):
    result = runner.invoke(cli, SMALL + ["--json", "--backend", "processes,prange"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    records = data["records"]
    assert len(records) == 2 * 2 * 2
    assert {r["backend"] for r in records} == {"processes", "prange"}
    for record in records:
        assert record["median_s"] > 0 and record["mpx_per_s"] > 0
        assert record["min_s"] <= record["median_s"] <= record["max_s"]
        if record["workers"] == 2:
            assert record["speedup"] > 0 and record["efficiency"] == pytest.approx(record["speedup"] / 2)
    assert {o["backend"] for o in data["one_off"]} == {"processes", "prange"}
    assert data["machine"]["logical_cores"] >= 1


def test_csv_records(runner):
    result = runner.invoke(cli, SMALL + ["--csv", "--backend", "serial"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 4 and set(rows[0]) >= {"size", "backend", "workers", "rows_per_task", "median_s"}


@pytest.mark.parametrize("args,message", [
    (["--workers", "0"], "--workers"), (["--rows-per-task", "x"], "--rows-per-task"),
    (["--backend", "gpu"], "--backend"), (["--size", "0x3"], "at least 1 pixel"),
    (["--json", "--csv"], "choose one"),
])
def test_bad_lists_are_usage_errors(runner, args, message):
    result = runner.invoke(cli, ["profile", "--repeat", "1", *args])
    assert result.exit_code == 2 and message in result.output


def test_more_workers_than_cores_warns(runner):
    result = runner.invoke(cli, ["profile", "--size", "16x8", "--workers", "64", "--rows-per-task", "auto",
                                 "--backend", "serial", "--repeat", "1"])
    assert result.exit_code == 0 and "physical cores" in result.stderr


def test_plot_needs_matplotlib_or_draws(runner, tmp_path):
    target = tmp_path / "p.png"
    result = runner.invoke(cli, SMALL + ["--backend", "threads", "--plot", str(target)])
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert result.exit_code == 1 and "pip install 'polewarp[plot]'" in result.output
    else:
        assert result.exit_code == 0 and target.stat().st_size > 1000


def wait_for_progress(process, stream: int, percent: int, timeout: float = 120) -> None:
    """Read the progress bar from ``stream`` (a terminal, so that it is drawn) until it shows
    ``percent``, failing if the run ends or the deadline passes first."""
    import os
    import re
    import select
    import time

    deadline, shown = time.monotonic() + timeout, b""
    while not any(int(p) >= percent for p in re.findall(rb"(\d+)%", shown[-200:])):
        assert process.poll() is None and time.monotonic() < deadline, shown[-500:]
        if select.select([stream], [], [], 0.1)[0]:
            shown += os.read(stream, 4096)


def read_all(stream: int) -> bytes:
    """What is left to read on a terminal whose other end is closed."""
    import os

    chunks = []
    while True:
        try:
            chunk = os.read(stream, 65536)
        except OSError:  # EIO: the other end is closed and all was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.slow
def test_ctrl_c_prints_what_was_measured():
    import os
    import pty
    import signal
    import subprocess
    import sys

    from .conftest import run_env

    # Half the builds are the 1024x512 ones: past 50% their tables are done, 4096x2048's run.
    terminal, stderr = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "polewarp", "profile", "--size", "1024x512,4096x2048", "--backend", "serial,threads",
         "--workers", "1,2", "--repeat", "5"], env=run_env(), stdout=subprocess.PIPE, stderr=stderr, text=True)
    os.close(stderr)
    try:
        wait_for_progress(process, terminal, 51)
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
        err = read_all(terminal).decode(errors="replace")
    finally:
        os.close(terminal)
    assert process.returncode == 130, err
    assert "settings measured" in err and "## 1024x512, serial" in out


def test_plot_without_matplotlib_is_said_before_the_sweep(runner, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    result = runner.invoke(cli, SMALL + ["--backend", "serial", "--plot", str(tmp_path / "p.png")])
    assert result.exit_code == 1 and "pip install 'polewarp[plot]'" in result.output
    assert "profiling" not in result.stderr and result.stdout == ""


def test_one_worker_is_singular(runner):
    result = runner.invoke(cli, ["profile", "--size", "16x8", "--workers", "1", "--rows-per-task", "4,auto",
                                 "--backend", "serial", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    assert "best: 1 worker," in result.stdout and "auto with 1 worker (" in result.stdout
    assert "1 workers" not in result.output


@pytest.mark.slow
def test_ctrl_c_while_numba_compiles_is_an_interruption(tmp_path):
    """SIGINT at seeded random moments of a profile with an empty numba cache: a signal inside
    numba's compiler is swallowed by a ctypes callback, and numba then fails on its own."""
    import random
    import signal
    import subprocess
    import sys
    import time

    from .conftest import run_env

    rng = random.Random(11)
    env = run_env()
    env["PYTHONUNBUFFERED"] = "1"
    codes = []
    for run in range(8):
        env["NUMBA_CACHE_DIR"] = str(tmp_path / f"numba{run}")
        process = subprocess.Popen(
            [sys.executable, "-m", "polewarp", "profile", "--size", "64x32", "--workers", "1", "--repeat", "1",
             "--backend", "serial,prange"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout.readline().startswith("# ")  # the machine line: the sweep and its compiles start
        time.sleep(rng.uniform(0, 2.5))
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
        codes.append(process.returncode)
        assert process.returncode in (0, 130) and "Traceback" not in err and "compiled object" not in err, err
    assert 130 in codes
