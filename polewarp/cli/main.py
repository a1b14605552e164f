"""The click group: logging to stderr, and the one place engine errors become exit codes."""

from __future__ import annotations

import logging
import signal

import click

from .. import __version__
from ..engine.errors import Interrupted, PolewarpError, SpecError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class EchoHandler(logging.Handler):
    """Log records as 'polewarp: message' on the current stderr (CliRunner swaps it)."""

    def emit(self, record):
        click.echo(f"polewarp: {record.getMessage()}", err=True)


class PolewarpGroup(click.Group):
    """Maps engine errors to click's exit codes: usage 2, failure 1, Ctrl-C 130, SIGTERM 143."""

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


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def main(args=None):
    """Console entry point: SIGINT and SIGTERM unwind the stack so every finally runs."""
    signal.signal(signal.SIGINT, _raise_interrupted)
    signal.signal(signal.SIGTERM, _raise_interrupted)
    return cli.main(args=args, prog_name="polewarp")


def _register():
    """Attach the commands (their modules import no numba, so --help stays light)."""
    from .batch import batch
    from .cache import cache
    from .convert import convert
    from .lut import lut
    from .profile import profile

    for command in (convert, batch, lut, cache, profile):
        cli.add_command(command)


_register()
