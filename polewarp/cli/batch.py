"""polewarp batch: many maps, one geometry, every core."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import time

import click

from ..engine.atomic import atomic_output
from ..engine.backends import available_cpus
from ..engine.batch import run_batch
from ..engine.choices import ENV_SCHEDULER, TRANSFERS
from ..engine.errors import PolewarpError
from ..engine.georef import sidecar_paths
from ..engine.imageio import DEFAULT_MAX_PIXELS
from ..engine.plan import BatchSettings, plan
from .options import (
    build_options_with,
    cache_options,
    encoder_options,
    geometry_options,
    memory_opt,
    take_build,
    take_cache,
    take_encoder,
    take_memory,
    take_read_geometry,
)


def write_report(path, results) -> None:
    """--report: one record per input, written atomically (a full disk leaves no half file)."""
    records = [dataclasses.asdict(result) for result in results]
    try:
        with atomic_output(path) as stream:
            stream.write(json.dumps(records, indent=2).encode() + b"\n")
    except OSError as err:
        raise PolewarpError(f"--report {path}: cannot write the report: {err.strerror or err}") from None


def check_scheduler(address: str | None):
    """--scheduler parsed before any work (Dask is imported only to connect)."""
    if address is None:
        return None
    from ..engine.distributed import parse_scheduler

    return parse_scheduler(address)


def failure_lines(result, debug: bool) -> str:
    """A failed image: one line, plus its traceback under --debug when it was unexpected."""
    if not result.details:
        return f"{result.input}: {result.reason}"
    if debug:
        return f"{result.input}: {result.reason}\n{result.details.rstrip()}"
    return f"{result.input}: {result.reason} (run with --debug for details)"


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--out-dir", type=click.Path(), required=True, help="Output folder (created if missing).")
@click.option("--recursive", is_flag=True, help="Take folders' subfolders too, mirrored under OUT-DIR.")
@click.option("--name", "template", default="{stem}.{ext}", show_default=True,
              help="Output name template: {stem} of the input, {ext} of the output format (e.g. "
                   "'{stem}_tm.{ext}', 'tm/{stem}.{ext}'); outputs stay inside OUT-DIR.")
@click.option("--format", "fmt", default=None, help="Output format: png, jpg, tif, bmp, gif, ppm, webp "
                                                   "[the input's].")
@click.option("--overwrite", is_flag=True, help="Replace outputs that exist.")
@click.option("--skip-existing", is_flag=True, help="Skip inputs whose output exists.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failure.")
@click.option("--report", type=click.Path(dir_okay=False),
              help="Write a JSON record per input (into an existing folder, over no input or output).")
@click.option("--dry-run", is_flag=True, help="List what would be written, and where, then stop.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no per-file lines but failures.")
@click.option("-t", "--time", "timing", is_flag=True, help="Say how the LUTs were obtained and the time spent.")
@click.option("--scheduler", envvar=ENV_SCHEDULER, default=None, metavar="ADDRESS",
              help="Run on a Dask cluster (tcp://host:8786), or local[:N] to start N local worker "
                   f"processes [${ENV_SCHEDULER}]. Paths must be reachable by every worker.")
@click.option("--lut-transfer", type=click.Choice(TRANSFERS), default="cache", show_default=True,
              help="With --scheduler: each worker takes the LUT from its cache, or the client "
                   "broadcasts it once.")
@geometry_options
@encoder_options
@build_options_with("Worker processes converting the images [the cores available]; the LUT is built "
                    "with the default, and --scheduler converts on the cluster's workers instead.")
@cache_options
@memory_opt
@click.option("--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS, show_default=True,
              help="Refuse larger inputs before decoding them.")
@click.pass_context
def batch(ctx, inputs, out_dir, recursive, template, fmt, overwrite, skip_existing, fail_fast, report,
          dry_run, quiet, timing, scheduler, lut_transfer, fill, graticule_color, max_pixels,
          **options):
    """Convert INPUTS (files, folders, glob patterns) into OUT-DIR with one geometry.

    Images of one size and embedded geometry share one LUT (from the cache, built once on a miss). Images are spread
    over --workers processes; a bad file is reported and the rest converted.
    """
    where = check_scheduler(scheduler)
    geometry, size, input_options = take_read_geometry(ctx, options)
    settings = BatchSettings(geometry, size, fill, take_encoder(options), max_pixels, input_options,
                             graticule_color)
    build = take_build(options)
    cache = take_cache(options)
    budget = take_memory(options)
    sidecars = functools.partial(sidecar_paths, encoder=settings.encoder, geometry=settings.geometry)
    items = plan(inputs, out_dir, template, fmt, recursive, overwrite, skip_existing, report, sidecars)
    if dry_run:
        for item in items:
            beside = "".join(f" + {path.name}" for path in sidecars(item.output))
            click.echo(f"{item.input} -> {item.output}{beside}{'  (skip: exists)' if item.skip else ''}")
        return
    debug = bool(ctx.find_root().params.get("debug"))
    workers = build.workers or available_cpus()
    start = time.perf_counter()
    with click.progressbar(length=len(items), label="converting", file=sys.stderr, hidden=quiet,
                           show_pos=True, show_eta=True, item_show_func=lambda text: text) as bar:

        def progress(result):
            for warning in [] if quiet else result.warnings:
                click.echo(f"\n{result.input}: warning: {warning}", err=True)
            if result.status == "failed":
                click.echo("\n" + failure_lines(result, debug), err=True)
            elif result.status == "skipped" and not quiet:
                click.echo(f"\n{result.input}: skipped ({result.reason})", err=True)
            elapsed = time.perf_counter() - start
            bar.update(1, f"{(bar.pos + 1) / elapsed:.1f} images/s" if elapsed > 0 else "")

        build = dataclasses.replace(build, workers=None)
        notes = []
        if where:
            from ..engine.distributed import connect, run_batch_dask

            with connect(where) as client:
                results = run_batch_dask(client, items, settings, lut_transfer, build, cache, fail_fast, progress,
                                         notes.append)
        else:
            results = run_batch(items, settings, workers, build, cache, fail_fast, progress, notes.append, budget)
    if timing:
        for note in notes:
            click.echo(note, err=True)
        elapsed = time.perf_counter() - start
        click.echo(f"{len(results)} images in {elapsed:.2f} s, {len(results) / elapsed:.2f} images/s", err=True)
    counts = {status: sum(r.status == status for r in results) for status in ("converted", "skipped", "failed")}
    not_run = len(items) - len(results)
    click.echo(f"converted {counts['converted']}, skipped {counts['skipped']}, failed {counts['failed']}"
               + (f", not started {not_run}" if not_run else "")
               + f" of {len(items)} in {time.perf_counter() - start:.1f} s")
    if report:
        write_report(report, results)
    if counts["failed"]:
        ctx.exit(1)

