"""polewarp convert: one map in, one re-projected map out."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

import click

from ..engine.imageio import DEFAULT_MAX_PIXELS, EncoderOptions
from ..engine.pipeline import BuildOptions, ConvertRequest, Stopwatch, convert_file
from .options import (
    build_options,
    cache_options,
    encoder_options,
    geometry_from_options,
    geometry_options,
    open_cache,
)

log = logging.getLogger("polewarp")

DEFAULT_OUTPUT = "ShiftedPoleMap.png"
GEOMETRY_PARAMS = ("center", "heading", "to", "source", "lat_limit", "input_lat_limit", "size", "legacy")


def default_map() -> Path:
    """The embedded 2048x1024 Blue Marble map (see polewarp/data/README.md)."""
    return Path(str(resources.files("polewarp") / "data" / "world.jpg"))


def _input_path(ctx, argument, option) -> Path:
    if argument and option:
        raise click.UsageError("give the input once: as INPUT or with -i, not both", ctx)
    return Path(argument or option) if (argument or option) else default_map()


def _check_lut_alone(ctx):
    """--lut brings its own geometry: geometry options beside it would be ignored, so refuse."""
    given = [name for name in GEOMETRY_PARAMS
             if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT]
    if given:
        names = ", ".join("--" + name.replace("_", "-").replace("source", "from") for name in given)
        raise click.UsageError(f"--lut brings its own geometry: drop {names}", ctx)


def report_timings(watch: Stopwatch, lut, size: int) -> None:
    """--time: phase timings on stderr, and where the LUT came from."""
    total = sum(watch.phases.values())
    for name, seconds in watch.phases.items():
        note = f"  {lut.origin}" if name == "lut" else ""
        click.echo(f"{name:>7} {seconds * 1000:8.1f} ms{note}", err=True)
    click.echo(f"{'total':>7} {total * 1000:8.1f} ms  ({size:,} bytes written)", err=True)


@click.command()
@click.argument("input_arg", metavar="[INPUT]", required=False, type=click.Path(readable=False))
@click.option("-i", "--input", "input_opt", type=click.Path(readable=False), help="Input map (the old script's -i).")
@click.option("-o", "--output", type=click.Path(), default=DEFAULT_OUTPUT, show_default=True,
              help="Output file; its extension picks the format (png jpg tif bmp gif ppm webp).")
@geometry_options
@encoder_options
@build_options
@cache_options
@click.option("--lut", "lut_file", type=click.Path(dir_okay=False),
              help="Apply a LUT exported by 'polewarp lut build' instead of the geometry options.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS, show_default=True,
              help="Refuse larger inputs before decoding them (decompression bombs).")
@click.option("-t", "--time", "timing", is_flag=True, help="Print phase timings on stderr.")
@click.option("--show", is_flag=True, help="Open the output in the image viewer.")
@click.option("-d", "--no-display", is_flag=True, hidden=True, help="Accepted for the old script's users.")
@click.pass_context
def convert(ctx, input_arg, input_opt, output, center, heading, to, source, lat_limit,
            input_lat_limit, size, legacy, compress_level, quality, fill, workers, rows_per_task,
            backend, cache_dir, no_cache, max_cache_size, lut_file, max_pixels, timing, show,
            no_display):
    """Re-project INPUT (default: the embedded Blue Marble map) into OUTPUT.

    With no geometry options this is the old script's transverse Mercator: the poles moved to
    the equator at 90E and 90W.
    """
    if lut_file:
        _check_lut_alone(ctx)
    request = ConvertRequest(
        input_path=_input_path(ctx, input_arg, input_opt),
        output_path=Path(output),
        geometry=geometry_from_options(center, heading, to, source, lat_limit, input_lat_limit,
                                       size, legacy),
        fill=fill,
        encoder=EncoderOptions(compress_level, quality),
        lut_file=Path(lut_file) if lut_file else None,
        max_pixels=max_pixels,
    )
    watch = Stopwatch()
    cache = None if lut_file else open_cache(cache_dir, no_cache, max_cache_size)
    lut, written = convert_file(request, BuildOptions(backend, workers, rows_per_task), cache, watch)
    if timing:
        report_timings(watch, lut, written)
    if show:
        from PIL import Image

        Image.open(request.output_path).show()
    log.info("wrote %s (%dx%d)", request.output_path, *lut.spec.output_size)
