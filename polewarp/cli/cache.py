"""polewarp cache: list, inspect and clear cached LUTs (never imports numba)."""

from __future__ import annotations

import datetime

import click

from ..engine.cache import LutCache, default_cache_dir, parse_size
from .options import cache_dir_opt


def _cache(cache_dir) -> LutCache:
    """The LutCache of --cache-dir (else its environment variable, else the default folder)."""
    return LutCache(default_cache_dir(cache_dir))


def _when(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cache():
    """Inspect and clear the LUT cache."""


@cache.command("path")
@cache_dir_opt
def path(cache_dir):
    """Print the cache folder."""
    click.echo(_cache(cache_dir).folder)


@cache.command("list")
@cache_dir_opt
def list_entries(cache_dir):
    """List entries: key, geometry, bytes, last used (most recent first)."""
    entries = _cache(cache_dir).entries()
    for entry in entries:
        words = entry.spec.describe() if entry.spec else f"damaged: {entry.problem}"
        click.echo(f"{entry.key[:12]}  {entry.bytes:>12,}  {_when(entry.last_used)}  {words}")
    total = sum(entry.bytes for entry in entries)
    click.echo(f"{len(entries)} entries, {total:,} bytes", err=True)


@cache.command("info")
@cache_dir_opt
@click.argument("key")
def info(cache_dir, key):
    """Show one entry (a key prefix is enough)."""
    entry = _cache(cache_dir).find(key)
    click.echo(f"key        {entry.key}\npath       {entry.path}\nbytes      {entry.bytes:,}\n"
               f"last used  {_when(entry.last_used)}")
    if entry.problem is not None:
        click.echo(f"damaged    {entry.problem} (the next run that needs it rebuilds it)")
    if entry.spec is not None:
        click.echo(f"geometry   {entry.spec.describe()}")
        for name, value in entry.spec.to_dict().items():
            click.echo(f"  {name:<16} {value}")


@cache.command("clear")
@cache_dir_opt
@click.option("--older-than", type=click.FloatRange(min=0), default=None, metavar="DAYS",
              help="Only entries not used for this many days.")
@click.option("--max-cache-size", default=None, metavar="SIZE",
              help="Instead, evict least recently used entries down to SIZE, e.g. 500M.")
def clear(cache_dir, older_than, max_cache_size):
    """Remove entries."""
    lut_cache = _cache(cache_dir)
    if max_cache_size is None:
        removed = lut_cache.clear(older_than)
    else:  # the size is parsed (and a bad one refused) before any entry is touched
        removed = lut_cache.evict(parse_size(max_cache_size, "--max-cache-size"))
    click.echo(f"removed {removed} entr{'y' if removed == 1 else 'ies'} from {lut_cache.folder}")
