"""Batch on a Dask cluster: one task per image, the LUT reaching each worker once.

Two ways for the LUT to reach the workers: ``cache`` (each worker takes it from its LUT cache,
building it once per geometry on a miss, and keeps it in memory for every later image) or
``scatter`` (the client builds it once and broadcasts it, so it crosses the network once per
worker). Inputs and outputs must be paths every worker can reach (a shared filesystem).
Dask is imported only here, and only when a scheduler is asked for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import logging
import os
import re
import time
import traceback
import urllib.parse
from pathlib import Path

from .batch import ItemResult, convert_one, failed_task, luts_for, one_line, remove_stray_temporaries, split_skipped
from .cache import LutCache, cache_key
from .choices import TRANSFERS
from .errors import PolewarpError, SpecError
from .pipeline import DEFAULT_BUILD, BuildOptions, obtain_lut
from .plan import BatchSettings, make_folders

DEFAULT_PORT = 8786  # Dask's scheduler port
# The scheduler serves HTTP even without a dashboard, on 8787 unless told: a free port instead,
# so that a second local cluster neither fails nor warns.
NO_DASHBOARD = {"dashboard_address": ":0", "scheduler_kwargs": {"dashboard": False}}
HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


def import_distributed():
    """dask.distributed, or a clear message on how to install it."""
    try:
        import distributed
    except ImportError:
        raise PolewarpError("--scheduler needs Dask: pip install 'polewarp[distributed]'") from None
    return distributed


@dataclasses.dataclass(frozen=True)
class Scheduler:
    """A checked --scheduler: a tcp:// address, or a local cluster of ``workers`` processes."""

    address: str | None  # None: start a local cluster
    workers: int | None = None  # local: None lets Dask choose


def _local(text: str) -> Scheduler:
    """local, or local:N with N >= 1 worker processes."""
    if text == "local":
        return Scheduler(None)
    count = text.removeprefix("local:")
    if not (count.isascii() and count.isdigit() and int(count) >= 1):
        raise SpecError(f"--scheduler {text!r}: local:N needs a whole number of workers N of at least 1")
    return Scheduler(None, int(count))


def _host(name: str | None) -> str | None:
    """A host name or IP address as a URL writes it, or None for anything else."""
    if not name:
        return None
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return name if HOST_NAME.fullmatch(name) else None
    return f"[{address}]" if address.version == 6 else str(address)


def parse_scheduler(text: str) -> Scheduler:
    """--scheduler checked without Dask or the network: local, local:N (N >= 1), or a scheduler
    at tcp://host[:port] (Dask's port 8786 when none is given)."""
    if text == "local" or text.startswith("local:"):
        return _local(text)
    scheme, separator, rest = text.partition("://")
    if separator and scheme in ("tls", "ucx", "ws", "wss", "inproc"):
        raise SpecError(f"--scheduler {text!r}: polewarp connects over tcp:// only ({scheme}:// needs "
                        "security or transport settings it does not pass to Dask)")
    parts = urllib.parse.urlsplit(f"tcp://{rest}")
    try:
        port = parts.port
    except ValueError:  # not a number, or past 65535
        port = -1
    host = _host(parts.hostname)
    plain = not ("@" in rest or parts.path or parts.query or parts.fragment)
    if scheme != "tcp" or host is None or port in (-1, 0) or not plain:
        raise SpecError(f"--scheduler {text!r}: use tcp://host:port (e.g. tcp://10.0.0.5:8786), local "
                        "or local:N")
    return Scheduler(f"tcp://{host}:{port or DEFAULT_PORT}")


@contextlib.contextmanager
def connect(scheduler: Scheduler | str):
    """A Client of the cluster at ``scheduler``; a local one starts its worker processes here
    (on loopback only) and stops them afterwards."""
    if isinstance(scheduler, str):
        scheduler = parse_scheduler(scheduler)
    distributed = import_distributed()
    cluster = None
    try:
        if scheduler.address is None:
            cluster = distributed.LocalCluster(n_workers=scheduler.workers, threads_per_worker=1, processes=True,
                                               host="127.0.0.1", silence_logs=logging.ERROR, **NO_DASHBOARD)
            client = distributed.Client(cluster)
        else:
            client = distributed.Client(scheduler.address, timeout="10s")
    except Exception as err:  # Dask raises OSError, TimeoutError, but not only
        if cluster is not None:
            cluster.close()
        where = scheduler.address or "a local cluster"
        failure = PolewarpError(f"cannot reach the Dask scheduler at {where}: {one_line(err)}")
        failure.details = "".join(traceback.format_exception(err))
        raise failure from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _missing(paths):
    """Run on every worker: the paths it cannot see."""
    return [path for path in paths if not os.path.exists(path)]


def check_visible(client, items) -> None:
    """Fail early, naming the worker and the paths, when a worker cannot see an input."""
    paths = [str(Path(item.input).resolve()) for item in items]
    blind = {worker: missing for worker, missing in client.run(_missing, paths).items() if missing}
    if blind:
        worker, missing = next(iter(blind.items()))
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise PolewarpError(f"worker {worker} cannot see {missing[0]}{more}: inputs and outputs must be "
                            "on a filesystem every worker reaches")


class _WorkerLuts:
    """A worker's LUTs by (input size, input geometry): from its cache (built once on a miss), kept in memory."""

    loaded: dict = {}  # cache key -> Lut, for the life of the worker process

    def __init__(self, settings, cache_folder: str | None, build: BuildOptions):
        self.size = settings.size
        self.cache_folder, self.build = cache_folder, build

    def get(self, key):
        size, geometry = key
        spec = geometry.spec(size, self.size)
        key = cache_key(spec)
        if key not in self.loaded:
            cache = LutCache(self.cache_folder) if self.cache_folder else None
            self.loaded[key] = obtain_lut(spec, self.build, cache)
        return self.loaded[key]


def _convert_with_cache(item, settings, cache_folder, build):
    return convert_one(item, _WorkerLuts(settings, cache_folder, build), settings)


def _executing(dask_worker) -> int:
    """How many tasks a worker's threads are running (a cancelled task runs on to its end)."""
    return dask_worker.state.executing_count


def _wait_idle(client, timeout=30.0) -> None:
    """After cancelling, let tasks already running finish their (atomic) writes: the scheduler's
    view empties first, the workers' threads later, and only then are the temporaries stray."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (any(client.processing().values())
                                           or any(client.run(_executing).values())):
        time.sleep(0.05)


def run_batch_dask(client, items, settings: BatchSettings, transfer: str = "cache",
                   build: BuildOptions = DEFAULT_BUILD, cache: LutCache | None = None,
                   fail_fast: bool = False, progress=None, report=None) -> list[ItemResult]:
    """The same batch as run_batch, as one Dask task per image. ``report(text)`` says how the
    LUTs reached the workers (for --time)."""
    distributed = import_distributed()
    if transfer not in TRANSFERS:
        raise PolewarpError(f"LUT transfer must be one of {', '.join(TRANSFERS)}, not {transfer!r}")
    results, todo = split_skipped(items, progress)
    check_visible(client, todo)
    make_folders(todo)
    start = time.perf_counter()
    if transfer == "scatter":
        luts = luts_for(todo, settings, build, cache)
        shared = {key: client.scatter(lut, broadcast=True) for key, lut in luts.items()}
        futures = {client.submit(convert_one, item, shared, settings, pure=False): item
                   for item in todo}
        sent = sum(lut.array.nbytes for lut in luts.values())
        how = f"scattered: built once here, {sent:,} bytes sent once to each worker"
    else:
        folder = str(cache.folder.resolve()) if cache is not None else None
        futures = {client.submit(_convert_with_cache, item, settings, folder, build, pure=False): item
                   for item in todo}
        how = f"worker caches ({folder or 'in memory only'}): each worker loads or builds a geometry once"
    if report:
        report(f"LUT {how}; set up in {time.perf_counter() - start:.2f} s")
    try:
        for future in distributed.as_completed(list(futures)):
            item = futures[future]
            try:
                result = future.result()
            except Exception as err:  # the task itself failed (e.g. its worker died too often)
                result = failed_task(item, err)
            results[item] = result
            if progress:
                progress(result)
            if fail_fast and result.status == "failed":
                break
    finally:
        unfinished = [future for future in futures if not future.done()]
        if unfinished:
            client.cancel(unfinished)
            _wait_idle(client)
        remove_stray_temporaries(todo)
    return [results[item] for item in items if item in results]


__all__ = ["Scheduler", "check_visible", "connect", "parse_scheduler", "run_batch_dask"]
