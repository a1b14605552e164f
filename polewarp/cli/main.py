"""The click group: logging to stderr, and the one place engine errors become exit codes."""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys

import click

from .. import __version__
from ..engine.errors import Interrupted, PolewarpError, SpecError
from ..engine.signals import install as install_signal_handlers

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class EchoHandler(logging.Handler):
    """Log records as 'polewarp: message' on the current stderr (CliRunner swaps it)."""

    def emit(self, record):
        click.echo(f"polewarp: {record.getMessage()}", err=True)


COMMANDS = {
    "convert": "polewarp.cli.convert:convert",
    "batch": "polewarp.cli.batch:batch",
    "lut": "polewarp.cli.lut:lut",
    "cache": "polewarp.cli.cache:cache",
    "profile": "polewarp.cli.profile:profile",
}


class PolewarpGroup(click.Group):
    """Loads a command's module only when that command runs (start-up is part of every
    conversion), and maps engine errors to exit codes: usage 2, failure 1, Ctrl-C 130,
    SIGTERM 143."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attribute)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SpecError as err:
            raise click.UsageError(str(err), ctx) from None
        except PolewarpError as err:
            raise click.ClickException(str(err)) from None
        except Interrupted as err:
            click.echo(f"polewarp: interrupted by {signal.Signals(err.signum).name}; cleaned up", err=True)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("polewarp: interrupted; cleaned up", err=True)
            ctx.exit(130)


@click.group(cls=PolewarpGroup, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="polewarp")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
def cli(quiet):
    """Re-project world-map images: move the poles anywhere, through cached lookup tables."""
    logger = logging.getLogger("polewarp")
    logger.handlers[:] = [EchoHandler()]
    logger.propagate = False
    logger.setLevel(logging.ERROR if quiet else logging.INFO)


def main(args=None):
    """Console entry point: SIGINT and SIGTERM unwind the stack so every finally runs.

    Once the command is done (files closed, segments unlinked, pools shut down) the process
    leaves with os._exit: tearing down numba's and numpy's modules takes up to a few hundred
    milliseconds and has nothing left to clean.
    """
    install_signal_handlers()
    try:
        code = cli.main(args=args, prog_name="polewarp", standalone_mode=False)
    except click.ClickException as err:
        err.show()
        code = err.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        code = 1
    except Interrupted as err:  # arrived outside a command (while parsing, say)
        click.echo(f"polewarp: interrupted by {signal.Signals(err.signum).name}", err=True)
        code = err.exit_code
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0)
