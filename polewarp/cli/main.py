"""The click group: logging to stderr, and the one place errors become exit codes and messages."""

from __future__ import annotations

import errno
import importlib
import logging
import os
import signal
import sys
import traceback

import click

from .. import __version__
from ..engine import signals
from ..engine.errors import Interrupted, PolewarpError, SpecError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
INNERMOST = "polewarp.context"  # ctx.meta key: the deepest command context entered


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
    "projections": "polewarp.cli.projections:projections",
    "info": "polewarp.cli.info:info",
    "explore": "polewarp.cli.explore:explore",
}


class TrackingContext(click.Context):
    """Records itself as the innermost context when entered (``meta`` is shared by the whole
    chain), so that an error raised after parsing is reported with its subcommand's usage."""

    def __enter__(self):
        self.meta[INNERMOST] = self
        return super().__enter__()


def _tracked(command: click.Command) -> click.Command:
    """The command (and a group's subcommands) with contexts that record themselves."""
    command.context_class = TrackingContext
    for sub in getattr(command, "commands", {}).values():
        _tracked(sub)
    return command


def _usage_error(err: SpecError, ctx: click.Context) -> click.UsageError:
    """A SpecError as click's usage error, naming the option when the engine says which."""
    params = ctx.command.params if ctx is not None else []
    param = next((p for p in params if p.name == err.param), None)
    if param is not None:
        return click.BadParameter(str(err), ctx, param)
    return click.UsageError(str(err), ctx)


def os_message(err: OSError) -> str:
    """'path: reason' for an OSError, naming both paths of a rename or link."""
    reason = err.strerror or str(err) or type(err).__name__
    names = [str(name) for name in (err.filename, err.filename2) if name is not None]
    return ": ".join([" -> ".join(names), reason] if names else [reason])


def memory_message(err: MemoryError) -> str:
    """Out of memory, with numpy's 'Unable to allocate N GiB ...' when it gave one, and what to lower."""
    needed = f" ({getattr(err, 'strerror', None) or err})" if str(err) else ""
    return (f"out of memory{needed}: lower --size (or the input's size), --supersample or --workers, "
            f"or free memory")


class UnexpectedError(click.ClickException):
    """An exception polewarp did not expect (a bug): one line, the traceback under --debug."""

    def __init__(self, err: BaseException):
        super().__init__(f"unexpected error: {type(err).__name__}: {err} (run with --debug for details)")

    def show(self, file=None):
        click.echo(f"polewarp: {self.format_message()}", file=file, err=True)


class PolewarpGroup(click.Group):
    """Loads a command's module only when that command runs (start-up is part of every
    conversion), and maps every error to an exit code and one line: usage 2, failure 1,
    Ctrl-C 130, SIGTERM 143."""

    context_class = TrackingContext

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        return _tracked(getattr(importlib.import_module(module), attribute))

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BaseException as err:
            interruption = signals.find_interruption(err)
            if interruption is not None:
                _report_interruption(interruption)
                ctx.exit(getattr(interruption, "exit_code", 130))
            if not isinstance(err, Exception):
                raise
            raise self._mapped(err, ctx.meta.get(INNERMOST, ctx), ctx.params.get("debug")) from err

    @staticmethod
    def _mapped(err: Exception, ctx: click.Context, debug: bool) -> click.ClickException:
        """The click exception to report ``err`` with, in the context of the command that raised it."""
        if debug:
            _show_debug(err)
        if isinstance(err, SpecError):
            return _usage_error(err, ctx)
        if isinstance(err, PolewarpError):
            hint = " (run with --debug for details)" if err.details and not debug else ""
            return click.ClickException(f"{err}{hint}")
        if isinstance(err, MemoryError) or (isinstance(err, OSError) and err.errno == errno.ENOMEM):
            return click.ClickException(memory_message(err))
        if isinstance(err, OSError):
            return click.ClickException(os_message(err))
        return UnexpectedError(err)


def _report_interruption(err: BaseException) -> None:
    """One line once clean-up is done: which signal, when polewarp's handler saw it."""
    signum = getattr(err, "signum", signal.SIGINT)
    click.echo(f"polewarp: interrupted by {signal.Signals(signum).name}; cleaned up", err=True)


def _show_debug(err: BaseException) -> None:
    """--debug: the traceback, and that of the failure in another process behind it."""
    click.echo("".join(traceback.format_exception(err)).rstrip(), err=True)
    details = getattr(err, "details", None)
    if details:
        click.echo(f"in the worker:\n{details.rstrip()}", err=True)


@click.group(cls=PolewarpGroup, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="polewarp")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Details too (debug messages) on stderr.")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
def cli(quiet, verbose, debug):
    """Re-project world-map images: move the poles anywhere, through cached lookup tables."""
    if quiet and verbose:
        raise click.UsageError("-q and -v contradict each other")
    logger = logging.getLogger("polewarp")
    logger.handlers[:] = [EchoHandler()]
    logger.propagate = False
    logger.setLevel(logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO)
    # Pillow logs what it makes of damaged files; polewarp reports the file itself, so Pillow's
    # own lines are details for -v.
    pillow = logging.getLogger("PIL")
    pillow.handlers[:] = [EchoHandler() if verbose else logging.NullHandler()]
    pillow.propagate = False


def _working_folder_gone() -> bool:
    """True when the current folder was removed under us (every relative path would fail)."""
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    return False


def main(args=None):
    """Console entry point: SIGINT and SIGTERM unwind the stack so every finally runs.

    Once the command is done (files closed, segments unlinked, pools shut down) the process
    leaves with os._exit: tearing down numba's and numpy's modules takes up to a few hundred
    milliseconds and has nothing left to clean.
    """
    signals.install()
    try:
        code = _run(args)
        swallowed = signals.find_interruption()
        if swallowed is not None and code in (0, None):  # the command finished all the same
            raise swallowed
    except Interrupted as err:  # arrived outside a command (while parsing, say)
        click.echo(f"polewarp: interrupted by {signal.Signals(err.signum).name}", err=True)
        code = err.exit_code
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0)


def _run(args) -> int:
    """Run the group; the exit code, every click error reported in one line."""
    if _working_folder_gone():
        click.echo("polewarp: the current folder no longer exists: cd to another one", err=True)
        return 1
    try:
        return cli.main(args=args, prog_name="polewarp", standalone_mode=False)
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.Abort:  # click's answer to an EOFError or Ctrl-C it caught itself
        click.echo("polewarp: aborted: input ended or was interrupted", err=True)
        return 1
    except Exception as err:  # raised while parsing, before the group could map it
        mapped = PolewarpGroup._mapped(err, click.get_current_context(silent=True), "--debug" in (args or sys.argv))
        mapped.show()
        return mapped.exit_code
