"""The command-line interface: thin click commands over the engine."""

from .main import cli, main

__all__ = ["cli", "main"]
