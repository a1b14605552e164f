"""One exception hierarchy for the engine; the CLI maps it to exit codes in one place."""


class PolewarpError(Exception):
    """Base class: a failure found while running (exit code 1 on the command line).

    ``details`` may hold the traceback of the failure behind it when that happened in another
    process (a pool worker, a Dask task), so that ``--debug`` can show where it came from.
    """

    details: str | None = None


class SpecError(PolewarpError, ValueError):
    """A geometry or option value that makes no sense (a usage error on the command line).

    ``param`` names the keyword at fault (``"lat_limit"``), so that the CLI can name its option.
    """

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


class ImageError(PolewarpError, OSError):
    """An image that cannot be read, gathered or written."""


class FormatError(SpecError):
    """An output format that cannot store the image's mode (a usage error: the user can pick another)."""


class CacheError(PolewarpError):
    """A cache entry or LUT file that is missing, damaged or built for another geometry."""


class WorkerError(PolewarpError):
    """A worker process died or failed while building a LUT."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: carries the exit code (130 or 143) once clean-up is done."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.exit_code = 128 + signum


def interruption_behind(err: BaseException) -> BaseException | None:
    """The Interrupted or KeyboardInterrupt that ``err`` was raised while handling, if any.

    A signal that lands inside numba's compiler unwinds through its clean-up code, which can
    then fail in turn ("RuntimeError: no compiled object yet"): that failure is the interruption.
    """
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, (Interrupted, KeyboardInterrupt)):
            return err
        seen.add(id(err))
        err = err.__context__
    return None
