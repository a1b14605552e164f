"""polewarp projections: every projection polewarp draws and reads (never imports numba)."""

from __future__ import annotations

import json

import click

from ..engine.projections import OPTIONS, PROJECTIONS, Projection


def _option_flags(entry: Projection) -> list[str]:
    """The command-line options a projection takes, on the output side (--from-* on the input's)."""
    return ["--" + option.replace("_", "-") for option in entry.options]


def _record(entry: Projection) -> dict:
    """One projection as ``--json`` gives it: the registry's facts and, at its defaults, its
    PROJ string on the unit sphere and its bounds."""
    x_edge, y_edge = entry.bounds({})
    record = entry.describe({})
    record.update({
        "forward": "iterative" if entry.iterative_forward else "exact",
        "inverse": "iterative" if entry.iterative_inverse else "exact",
        "output": True,
        "input": True,
        "aspect": x_edge / y_edge,
        "options": {option: OPTIONS[option] for option in entry.options},
    })
    if entry.radius is not None:
        default, low, high, closed = entry.radius
        record["radius"] = {"default": default, "above": low, "at most" if closed else "below": high}
    return record


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document: every projection's facts.")
def projections(as_json):
    """List every projection: names, family, exact or iterative formulas, aspect and options.

    Every one is usable as output (--to) and as input (--from), by its name or its PROJ name.
    """
    records = [_record(entry) for entry in PROJECTIONS.values()]
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    click.echo(f"{'name':<30} {'PROJ':<9} {'family':<19} {'inverse':<10} {'forward':<10} {'W:H':>5}  options")
    for record in records:
        entry = PROJECTIONS[record["name"]]
        click.echo(f"{record['name']:<30} {record['short']:<9} {record['family']:<19} {record['inverse']:<10} "
                   f"{record['forward']:<10} {record['aspect']:>5.2f}  {' '.join(_option_flags(entry)) or '-'}")
    click.echo("\nEvery projection is usable with --to (output) and --from (input); the input's options are "
               "named --from-*.")
