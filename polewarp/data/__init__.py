"""The embedded world map, shipped as package data (its source and licence: README.md here)."""

from __future__ import annotations

from pathlib import Path


def default_map() -> Path:
    """The embedded 2048x1024 Blue Marble map: convert's default input, and a real map for the
    tests and benchmarks."""
    from importlib import resources

    return Path(str(resources.files(__name__) / "world.jpg"))
