"""polewarp lut build: export a LUT as .npy + .json, or store it in the cache."""

from __future__ import annotations

import logging

import click

from ..engine.cache import cache_key
from ..engine.geometry import GeometrySpec
from ..engine.pipeline import BuildOptions, obtain_lut
from .options import SIZE, build_options, cache_options, geometry_from_options, geometry_options, open_cache

log = logging.getLogger("polewarp")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def lut():
    """Build and export lookup tables."""


@lut.command("build")
@click.option("--input-size", type=SIZE, required=True, help="Size of the inputs the LUT is for.")
@geometry_options
@build_options
@cache_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write FILE.npy (and FILE.json beside it).")
@click.option("--cache", "into_cache", is_flag=True, help="Store the LUT in the cache (then -o is optional).")
@click.pass_context
def build(ctx, input_size, center, heading, to, source, lat_limit, input_lat_limit, size, legacy,
          workers, rows_per_task, backend, cache_dir, no_cache, max_cache_size, output, into_cache):
    """Build the LUT for INPUT-SIZE inputs and the geometry options."""
    if not output and not into_cache:
        raise click.UsageError("say where the LUT goes: -o FILE.npy, --cache, or both", ctx)
    if into_cache and no_cache:
        raise click.UsageError("--cache and --no-cache contradict each other", ctx)
    spec = GeometrySpec(input_size=input_size, **geometry_from_options(
        center, heading, to, source, lat_limit, input_lat_limit, size, legacy))
    cache = open_cache(cache_dir, False, max_cache_size) if into_cache else None
    built = obtain_lut(spec, BuildOptions(backend, workers, rows_per_task), cache)
    if output:
        from ..engine.lutfile import save_lut, sidecar_path

        path = save_lut(built, output)
        log.info("wrote %s and %s", path, sidecar_path(path))
    if into_cache:
        log.info("cache entry %s: %s", cache_key(spec), built.origin)
