"""polewarp profile: how the LUT build scales with workers, rows per task and backend."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys

import click

from ..engine.backends import available_cpus
from ..engine.choices import BACKENDS
from ..engine.signals import check_interrupted, find_interruption
from .options import SIZE, aspect_options, take_geometry


def _split(text: str, convert, name: str):
    try:
        values = [convert(part.strip()) for part in str(text).split(",") if part.strip()]
    except (ValueError, click.BadParameter) as err:
        raise click.BadParameter(f"{text!r}: {err}", param_hint=name) from None
    if not values:
        raise click.BadParameter("give at least one value", param_hint=name)
    return values


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"{value} is not at least 1")
    return value


def _rows(text: str):
    return "auto" if text == "auto" else _positive(text)


def _backend(text: str) -> str:
    if text not in BACKENDS:
        raise ValueError(f"{text!r} is not one of {', '.join(BACKENDS)}")
    return text


def _sizes(values):
    return [size for value in values for size in _split(value, lambda v: SIZE.convert(v, None, None), "--size")]


def counted(number: int, noun: str) -> str:
    """'1 worker', '2 workers'."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def print_machine(info: dict, workers_list) -> None:
    click.echo(f"# {info['cpu']}: {info['physical_cores']} physical / {info['logical_cores']} logical cores, "
               f"SIMD {' '.join(info['simd']) or 'unknown'}; Python {info['python']}, numpy {info['numpy']}, "
               f"numba {info['numba']}")
    if max(workers_list) > info["physical_cores"]:
        click.echo(f"polewarp: warning: {counted(max(workers_list), 'worker')} asked for, "
                   f"{counted(info['physical_cores'], 'physical core')}: the extra workers share cores", err=True)


def print_tables(records, one_offs, gathers) -> None:
    """The original script's layout: a table per size and backend, rows per task down, workers across."""
    groups = {}
    for record in records:
        groups.setdefault((record.size, record.backend), []).append(record)
    for (size, backend), group in groups.items():
        workers = sorted({r.workers for r in group})
        rows = list(dict.fromkeys(r.rows_per_task for r in group))
        cell = {(r.rows_per_task, r.workers): r for r in group}
        click.echo(f"\n## {size}, {backend}: seconds per LUT build (median of repeats)")
        click.echo("rows/task " + "".join(f"{w:>9} w" for w in workers))
        for row in rows:
            label = f"auto={cell[(row, workers[0])].rows_resolved}" if row == "auto" and (row, workers[0]) in cell \
                else row
            click.echo(f"{label:>9} " + "".join(
                f"{cell[(row, w)].median_s:11.4f}" if (row, w) in cell else f"{'-':>11}" for w in workers))
        best = min(group, key=lambda r: r.median_s)
        gain = f", x{best.speedup:.2f} over 1 worker ({best.efficiency:.0%} efficiency)" if best.speedup else ""
        click.echo(f"best: {counted(best.workers, 'worker')}, {best.rows_per_task} rows/task: {best.median_s:.4f} s, "
                   f"{best.mpx_per_s:.1f} Mpx/s{gain}")
        for w in workers:
            auto, fixed = cell.get(("auto", w)), [r for r in group if r.workers == w and r.rows_per_task != "auto"]
            if auto and fixed:
                top = min(fixed, key=lambda r: r.median_s)
                ratio = auto.median_s / top.median_s
                click.echo(f"auto with {counted(w, 'worker')} ({auto.rows_resolved} rows/task): x{ratio:.2f} "
                           f"the time of the best measured rows/task ({top.rows_per_task})")
        for one in one_offs:
            if (one.size, one.backend) == (size, backend):
                click.echo(f"one-off start with {counted(one.workers, 'worker')}: {one.seconds:.4f} s")
    for gather in gathers:
        click.echo(f"gather {gather.size} RGB, {gather.gather}: {gather.median_s * 1000:.1f} ms, "
                   f"{gather.mpx_per_s:.0f} Mpx/s")


def pyplot():
    """matplotlib's pyplot on the file-only backend; checked before the sweep, not after it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise click.ClickException("--plot needs matplotlib: pip install 'polewarp[plot]'") from None
    return plt


def plot(path, records) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 5))
    workers = sorted({r.workers for r in records})
    axis.plot(workers, workers, "k--", label="ideal")
    lines = {}
    for r in records:
        if r.speedup is not None:
            lines.setdefault((r.size, r.backend, r.rows_per_task), []).append((r.workers, r.speedup))
    for (size, backend, rows), points in lines.items():
        axis.plot(*zip(*sorted(points), strict=True), marker="o", label=f"{size} {backend} {rows} rows/task")
    axis.set_xlabel("workers")
    axis.set_ylabel("speedup over 1 worker")
    axis.legend(fontsize=6)
    from ..engine.atomic import atomic_output

    with atomic_output(path) as stream:
        figure.savefig(stream, format="png", dpi=120)


def step(bar) -> None:
    """One timed build done: advance the bar, and stop if a Ctrl-C was swallowed on the way."""
    bar.update(1)
    check_interrupted()


@click.command()
@click.option("--size", "sizes", multiple=True, default=["2048x1024"], show_default=True,
              help="Output sizes WxH (comma-separated or repeated).")
@click.option("--workers", "workers_text", default=None, help="Worker counts, e.g. 1,2,4 [1 up to the cores].")
@click.option("--rows-per-task", "rows_text", default="1,4,16,64,auto", show_default=True,
              help="Rows per task, numbers or auto.")
@click.option("--backend", "backend_text", default=",".join(BACKENDS), show_default=True,
              help="Backends to compare.")
@click.option("--repeat", type=click.IntRange(min=1), default=5, show_default=True, help="Timed builds per setting.")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON instead of tables.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the records as CSV instead of tables.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Draw speedup against workers (PNG).")
@aspect_options
@click.pass_context
def profile(ctx, sizes, workers_text, rows_text, backend_text, repeat, as_json, as_csv, plot_path, **options):
    """Time the LUT build for every size x backend x workers x rows per task."""
    from ..engine import profiler

    if as_json and as_csv:
        raise click.UsageError("--json and --csv: choose one", ctx)
    sizes = _sizes(sizes)
    workers_list = _split(workers_text, _positive, "--workers") if workers_text else \
        list(range(1, available_cpus() + 1))
    rows_list = _split(rows_text, _rows, "--rows-per-task")
    backends = _split(backend_text, _backend, "--backend")
    geometry, _ = take_geometry(options)
    if plot_path:
        pyplot()
    info = profiler.machine()
    if not (as_json or as_csv):
        print_machine(info, workers_list)
    elif max(workers_list) > info["physical_cores"]:
        click.echo("polewarp: warning: more workers than physical cores", err=True)
    records, one_offs, gathers = [], [], []
    total = profiler.steps(sizes, workers_list, rows_list, backends, repeat)
    interrupted = None
    with click.progressbar(length=total, label="profiling", file=sys.stderr) as bar:
        try:
            for record in profiler.profile(sizes, workers_list, rows_list, backends, repeat, geometry,
                                           on_one_off=one_offs.append, on_step=lambda: step(bar)):
                records.append(record)
            gathers = list(profiler.profile_gather(sizes, geometry))
        except BaseException as err:  # a signal, or numba failing in turn while it unwinds from one
            interrupted = find_interruption(err)
            if interrupted is None:
                raise
    if interrupted is not None:
        click.echo(f"\npolewarp: interrupted: {len(records)} of {total // repeat} settings measured", err=True)
    if as_json:
        click.echo(json.dumps({"machine": info, "records": [dataclasses.asdict(r) for r in records],
                               "one_off": [dataclasses.asdict(o) for o in one_offs],
                               "gather": [dataclasses.asdict(g) for g in gathers]}, indent=2))
    elif as_csv:
        writer = csv.writer(sys.stdout)
        fields = [f.name for f in dataclasses.fields(profiler.Record)]
        writer.writerow(fields)
        for record in records:
            writer.writerow([getattr(record, name) for name in fields])
    else:
        print_tables(records, one_offs, gathers)
    if plot_path and records:
        plot(plot_path, records)
    if interrupted is not None:
        raise interrupted
