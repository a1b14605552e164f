"""polewarp info: what an image file is and the geometry it carries (headers only, never numba)."""

from __future__ import annotations

import json

import click

from ..engine.embedded import FORMATS, as_input, document
from ..engine.errors import ImageError
from ..engine.imageio import read_header


def _record(path: str, header) -> dict:
    """One file as ``--json`` gives it: the geometry is the embedded document, or null."""
    width, height = header.size
    return {"file": path, "format": header.format, "width": width, "height": height, "mode": header.mode,
            "geometry": document(header.geometry) if header.geometry is not None else None}


def _from_flags(made) -> str:
    """The --from* options that read the image back as its embedded geometry says."""
    flags = []
    for name, value in as_input(made).items():
        flag = "--" + name.rstrip("_").replace("_", "-")
        text = f"{value[0]:g},{value[1]:g}" if isinstance(value, tuple) else (
            value if isinstance(value, str) else f"{value:.12g}")
        flags.append(f"{flag} {text}")
    return " ".join(flags)


def _lines(path: str, header) -> list[str]:
    width, height = header.size
    first = f"{path}: {width}x{height} {header.mode} {header.format}"
    if header.geometry is None:
        reason = "" if header.format in FORMATS else f" ({header.format} has no place for one)"
        return [first + ", no embedded geometry" + reason]
    return [first, f"  geometry: {header.geometry.describe()}", f"  read back as: {_from_flags(header.geometry)}"]


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True,
              help="One JSON document: a record per file, with its embedded geometry or null.")
@click.pass_context
def info(ctx, files, as_json):
    """Say what each of FILES is: size, mode, format and the geometry it carries, if any.

    Only headers are read. A map polewarp wrote as PNG, TIFF, JPEG or WebP carries its geometry,
    which convert and batch use as the input's (other programs may drop it: then say it with --from*).
    """
    records, failed = [], False
    for path in files:
        try:
            header = read_header(path)
        except ImageError as err:
            click.echo(f"polewarp: {err}", err=True)
            failed = True
            continue
        if as_json:
            records.append(_record(path, header))
        else:
            click.echo("\n".join(_lines(path, header)))
    if as_json:
        click.echo(json.dumps(records, indent=2))
    if failed:
        ctx.exit(1)
