"""polewarp convert: one map in, one re-projected map out."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from ..data import default_map
from ..engine.imageio import DEFAULT_MAX_PIXELS, check_output_path, check_regular_file
from ..engine.pipeline import ConvertRequest, Stopwatch, convert_file
from .options import (
    GEOMETRY_PARAMS,
    GRATICULE_PARAMS,
    build_options,
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

log = logging.getLogger("polewarp")

DEFAULT_OUTPUT = "ShiftedPoleMap.png"


def _input_path(ctx, argument, option) -> Path:
    if argument and option:
        raise click.UsageError("give the input once: as INPUT or with -i, not both", ctx)
    return Path(argument or option) if (argument or option) else default_map()


def _check_lut_alone(ctx):
    """--lut brings its own geometry: geometry options beside it would be ignored, so refuse."""
    given = [name for name in GEOMETRY_PARAMS + GRATICULE_PARAMS + ("size",)
             if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT]
    if given:
        names = ", ".join("--" + name.rstrip("_").replace("_", "-") for name in given)
        raise click.UsageError(f"--lut brings its own geometry: drop {names}", ctx)


def report_timings(watch: Stopwatch, lut, size: int) -> None:
    """--time: phase timings on stderr, and where the LUT came from."""
    total = sum(watch.phases.values())
    for name, seconds in watch.phases.items():
        note = f"  {lut.origin}" if name == "lut" else ""
        click.echo(f"{name:>7} {seconds * 1000:8.1f} ms{note}", err=True)
    click.echo(f"{'total':>7} {total * 1000:8.1f} ms  ({size:,} bytes written)", err=True)


class BandBar:
    """The progress bar of a banded conversion, over its output rows, shown from its first band
    (an in-memory conversion has none); closed with the command's context."""

    def __init__(self, ctx):
        self.ctx, self.bar = ctx, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            # Off a terminal click would print the label alone, a line that says nothing.
            hidden = bool(self.ctx.find_root().params.get("quiet")) or not sys.stderr.isatty()
            self.bar = self.ctx.with_resource(click.progressbar(length=total, label="bands", file=sys.stderr,
                                                                hidden=hidden, show_eta=True, show_percent=True))
        self.bar.update(done - self.bar.pos)


def show_image(path: Path) -> None:
    """--show: open the output in the image viewer, or say in one line why there is none."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        log.warning("--show: no display ($DISPLAY and $WAYLAND_DISPLAY are unset); the output is %s", path)
        return
    from PIL import Image, ImageShow

    with Image.open(path) as image:
        if not ImageShow.show(image):
            log.warning("--show: no image viewer found; the output is %s", path)


@click.command()
@click.argument("input_arg", metavar="[INPUT]", required=False, type=click.Path(readable=False))
@click.option("-i", "--input", "input_opt", type=click.Path(readable=False),
              help="Input map (the original script's -i).")
@click.option("-o", "--output", type=click.Path(), default=DEFAULT_OUTPUT, show_default=True,
              help="Output file; its extension picks the format (png jpg tif bmp gif ppm webp).")
@geometry_options
@encoder_options
@build_options
@cache_options
@memory_opt
@click.option("--lut", "lut_file", type=click.Path(dir_okay=False),
              help="Apply a LUT exported by 'polewarp lut build' instead of the geometry options.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS, show_default=True,
              help="Refuse larger inputs before decoding them (decompression bombs).")
@click.option("-t", "--time", "timing", is_flag=True, help="Print phase timings on stderr.")
@click.option("--show", is_flag=True, help="Open the output in the image viewer.")
@click.option("-d", "--no-display", is_flag=True, hidden=True, help="Accepted for the original script's users.")
@click.pass_context
def convert(ctx, input_arg, input_opt, output, fill, graticule_color, lut_file, max_pixels, timing, show, no_display,
            **options):
    """Re-project INPUT (default: the embedded Blue Marble map) into OUTPUT.

    With no geometry options this is the original script's transverse Mercator: the poles moved to
    the equator at 90E and 90W.
    """
    if lut_file:
        _check_lut_alone(ctx)
    geometry, size, input_options = take_read_geometry(ctx, options)
    request = ConvertRequest(
        input_path=_input_path(ctx, input_arg, input_opt),
        output_path=Path(output),
        geometry=geometry,
        size=size,
        fill=fill,
        graticule_color=graticule_color,
        encoder=take_encoder(options),
        lut_file=Path(lut_file) if lut_file else None,
        max_pixels=max_pixels,
        input_options=None if lut_file else input_options,
    )
    build = take_build(options)
    cache = take_cache(options)
    budget = take_memory(options)
    check_regular_file(request.input_path)  # before resolving it: a symlink loop, a FIFO
    check_output_path(request.output_path)
    watch = Stopwatch()
    lut, written = convert_file(request, build, None if lut_file else cache, watch, budget=budget,
                                bands_progress=BandBar(ctx))
    log.debug("LUT: %s", lut.origin)
    if timing:
        report_timings(watch, lut, written)
    if show:
        show_image(request.output_path)
    log.info("wrote %s (%dx%d)", request.output_path, *lut.spec.output_size)
