"""polewarp lut build: export a LUT as .npy + .json, or store it in the cache."""

from __future__ import annotations

import logging

import click

from ..engine.cache import cache_key
from ..engine.pipeline import obtain_lut
from .options import SIZE, build_options, cache_options, geometry_options, take_build, take_cache, take_geometry

log = logging.getLogger("polewarp")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def lut():
    """Build and export lookup tables."""


def _check_output(output) -> None:
    """Before the build: FILE.npy and its sidecar can be created where -o says."""
    from ..engine.imageio import check_output_path
    from ..engine.lutfile import sidecar_path

    if not output.lower().endswith(".npy"):
        raise click.BadParameter(f"{output}: a LUT is written as .npy (with a .json sidecar)",
                                 param_hint="'-o' / '--output'")
    for path in (output, sidecar_path(output)):
        check_output_path(path)


@lut.command("build")
@click.option("--input-size", type=SIZE, required=True, help="Size of the inputs the LUT is for.")
@geometry_options
@build_options
@cache_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write FILE.npy (and FILE.json beside it).")
@click.option("--cache", "into_cache", is_flag=True, help="Store the LUT in the cache (then -o is optional).")
@click.pass_context
def build(ctx, input_size, output, into_cache, **options):
    """Build the LUT for INPUT-SIZE inputs and the geometry options."""
    if not output and not into_cache:
        raise click.UsageError("say where the LUT goes: -o FILE.npy, --cache, or both", ctx)
    if into_cache and options["no_cache"]:
        raise click.UsageError("--cache and --no-cache contradict each other", ctx)
    geometry, size = take_geometry(options)
    spec = geometry.spec(input_size, size)
    cache = take_cache(options) if into_cache else None
    if output:
        _check_output(output)
    built = obtain_lut(spec, take_build(options), cache)
    if output:
        from ..engine.lutfile import graticule_path, save_lut, sidecar_path

        try:
            path = save_lut(built, output)
        except OSError as err:  # numpy's writer reports a short write without an errno
            raise click.ClickException(f"{output}: cannot write the LUT: {err.strerror or err} "
                                       "(a full disk or a file size limit?)") from None
        mask = f", {graticule_path(path)}" if built.graticule is not None else ""
        log.info("wrote %s%s and %s", path, mask, sidecar_path(path))
    if into_cache:
        log.info("cache entry %s: %s", cache_key(spec), built.origin)
