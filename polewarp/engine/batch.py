"""Batch running: share one LUT per input size and geometry, convert the planned images on a process pool.

The LUTs are built (or loaded from the cache) in the parent, copied once into shared-memory
segments the parent owns, and attached by every worker in the pool initializer: never pickled.
Each worker reads, gathers and writes whole images; only a small result record comes back.
The plan (plan.py) has checked every option and path; from here on, whatever goes wrong with
one image is that image's failure and the batch goes on.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
import warnings
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack

from .embedded import input_geometry
from .errors import ImageError, PolewarpError, SpecError
from .geometry import Geometry
from .georef import write_map
from .imageio import check_storable, output_format, probe_header, read_image
from .lut import Lut
from .pipeline import DEFAULT_BUILD, BuildOptions, obtain_lut, prepare, render
from .plan import BatchItem, BatchSettings, make_folders
from .workers import SharedArray, attach, process_pool, shutdown, worker_signals


@dataclasses.dataclass
class ItemResult:
    """What became of one input (a --report record)."""

    input: str
    output: str
    status: str  # converted, skipped or failed
    size: tuple[int, int] | None = None
    bytes: int | None = None
    seconds: float = 0.0
    reason: str | None = None
    details: str | None = None  # the traceback of an unexpected failure, for --debug
    warnings: list[str] = dataclasses.field(default_factory=list)  # Pillow's, about damage it read past


# --- the pool ---------------------------------------------------------------------------------

@dataclasses.dataclass
class _BatchWorker:
    """One worker's state: the attached LUTs by (input size, input geometry), and the shared settings."""

    segments: list
    luts: dict
    settings: BatchSettings


_worker: _BatchWorker | None = None


def _attach_luts(handles: dict, luts_meta: dict, settings: BatchSettings) -> None:
    """Pool initializer: attach every LUT segment once, each with its spec and whether the parent
    checked it (so that the gather does not check it again for every image)."""
    global _worker
    worker_signals()
    segments, luts = [], {}
    for key, handle in handles.items():
        segment, array = attach(handle)
        segments.append(segment)
        spec, checked, graticule = luts_meta[key]
        luts[key] = Lut(array, spec, "shared", checked, graticule)
    _worker = _BatchWorker(segments, luts, settings)


def one_line(err: BaseException) -> str:
    """An exception as one line: its type (for those polewarp did not expect) and first line."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, (PolewarpError, OSError)) and text:
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def lut_key(size, embedded: Geometry | None, settings: BatchSettings) -> tuple:
    """What picks an image's LUT: its size and the geometry it is read with (the settings', the
    input side from its embedded geometry but for the --from* options given)."""
    return size, input_geometry(settings.geometry, embedded, settings.input_options)


def _lut_for(key, luts, settings: BatchSettings):
    """The LUT planned for this size and geometry; a key with none fails with the reason it has none."""
    lut = luts.get(key)
    if lut is None:
        size, geometry = key
        geometry.spec(size, settings.size)  # raises why this size has no LUT
        raise PolewarpError(f"{size[0]}x{size[1]}: size or embedded geometry changed since planning")
    return lut


def convert_one(item: BatchItem, luts, settings: BatchSettings) -> ItemResult:
    """Read, gather and write one image. Whatever goes wrong (a damaged file makes Pillow raise
    almost anything) becomes this image's failed record, never an exception: the batch goes on.
    Warnings are kept in the record, so that they can be said with the file's name."""
    start = time.perf_counter()
    result = ItemResult(str(item.input), str(item.output), "failed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _convert(item, luts, settings, result)
    result.warnings = list(dict.fromkeys(one_line(warning.message) for warning in caught))
    result.seconds = time.perf_counter() - start
    return result


def _convert(item: BatchItem, luts, settings: BatchSettings, result: ItemResult) -> None:
    """convert_one's work, filling ``result``."""
    stage = "read"
    try:
        picture = prepare(read_image(item.input, settings.max_pixels), settings.geometry.resample)
        result.size = picture.size
        stage = "convert"
        lut = _lut_for(lut_key(picture.size, picture.geometry, settings), luts, settings)
        check_storable(picture.mode, output_format(item.output))
        pixels = render(picture, lut, settings.fill, settings.graticule_color)
        stage = "write"
        result.bytes = write_map(item.output, pixels, settings.encoder, lut.spec)
        result.status = "converted"
    except Exception as err:  # one image's failure, whatever it is
        reason = one_line(err).removeprefix(f"{item.input}: ")
        expected = isinstance(err, (PolewarpError, OSError))
        result.reason = reason if expected else f"cannot {stage} the image ({reason})"
        behind = unexpected_cause(err)
        result.details = getattr(err, "details", None) or (
            "".join(traceback.format_exception(behind)) if behind else None)


def unexpected_cause(err: BaseException) -> BaseException | None:
    """The exception polewarp did not expect behind ``err``: ``err`` itself, or the one an
    ImageError wraps (Pillow's TypeError on a damaged file, say); its traceback is for --debug."""
    if not isinstance(err, (PolewarpError, OSError)):
        return err
    inner = err.__cause__ or err.__context__
    if isinstance(err, ImageError) and inner is not None and not isinstance(inner, (PolewarpError, OSError)):
        return inner
    return None


def failed_task(item: BatchItem, err: Exception) -> ItemResult:
    """The record of an item whose task raised (outside convert_one), with the traceback."""
    return ItemResult(str(item.input), str(item.output), "failed", reason=f"task failed: {one_line(err)}",
                      details="".join(traceback.format_exception(err)))


def _convert_in_worker(item: BatchItem) -> ItemResult:
    return convert_one(item, _worker.luts, _worker.settings)


def split_skipped(items, progress=None) -> tuple[dict, list]:
    """The skipped items' results (already reported to ``progress``), and the items to convert."""
    results = {item: ItemResult(str(item.input), str(item.output), "skipped", reason="output exists")
               for item in items if item.skip}
    for result in results.values():
        if progress:
            progress(result)
    return results, [item for item in items if not item.skip]


def remove_stray_temporaries(items) -> None:
    """A worker killed mid-write leaves its temporary file behind: remove those of these outputs
    (called once no worker is writing any more)."""
    from .atomic import temporaries_for
    from .georef import every_sidecar

    for item in items:
        for target in (item.output, *every_sidecar(item.output)):
            for stray in temporaries_for(target):
                stray.unlink(missing_ok=True)


def _usable_spec(header, settings: BatchSettings) -> tuple | None:
    """The LUT key and spec for an input's header, or None for one no image of it can be converted
    with (over --max-pixels, or refused by the geometry): a header must not make the batch build
    a LUT for a damaged file, and its images fail one by one with the reason."""
    size = header.size
    if size[0] * size[1] > settings.max_pixels:
        return None
    try:
        key = lut_key(size, header.geometry, settings)
        return key, key[1].spec(size, settings.size)
    except SpecError:
        return None


def luts_for(items, settings: BatchSettings, build: BuildOptions, cache) -> dict:
    """One LUT per distinct usable (input size, input geometry) (from the cache, or built once);
    the headers are read for it, the pixels are not."""
    headers = filter(None, map(probe_header, (item.input for item in items if not item.skip)))
    specs = dict(filter(None, (_usable_spec(header, settings) for header in headers)))
    return {key: obtain_lut(spec, build, cache) for key, spec in sorted(specs.items(), key=_order)}


def _order(entry) -> tuple:
    """Keys in a stable order (by size, then geometry), so that LUTs are obtained and reported alike."""
    (size, geometry), _ = entry
    return size, geometry.describe()


def _read_as(geometry: Geometry, settings: BatchSettings) -> str:
    """For --time: how a group's inputs are read, when their embedded geometry said so."""
    if geometry == settings.geometry:
        return ""
    (lat, lon), heading = geometry.from_center, geometry.from_heading
    return f" (read as {geometry.from_}, centre {lat:g},{lon:g}, heading {heading:g})"


MAX_POOL_STARTS = 3  # a pool broken by a dying worker is restarted for the images left


def run_batch(items, settings: BatchSettings, workers: int = 1, build: BuildOptions = DEFAULT_BUILD,
              cache=None, fail_fast: bool = False, progress=None, report=None,
              budget: int | None = None) -> list[ItemResult]:
    """Convert every item; returns one result per item, in the plan's order.

    ``progress(result)`` is called as each item finishes, ``report(text)`` once with where the
    LUTs came from. With ``fail_fast`` the first failure cancels what has not started. When a
    worker dies (killed, out of memory) the images it left unfinished are retried in a new pool,
    up to MAX_POOL_STARTS pools. Shared memory is unlinked and pools shut down on every path.
    Images the in-memory path would take more than ``budget`` bytes for (None: no budget) are
    converted first, one at a time, in bands (``bands.run_huge``).
    """
    from .bands import run_huge, split_huge

    results, todo = split_skipped(items, progress)
    huge, todo = split_huge(todo, settings, budget)
    results.update(run_huge(huge, settings, build, cache, budget, fail_fast, progress))
    if not todo or (fail_fast and any(result.status == "failed" for result in results.values())):
        return [results[item] for item in items if item in results]
    luts = luts_for(todo, settings, build, cache)
    if report:
        processes = f"{workers} worker process{'es' if workers != 1 else ''}"
        report("LUTs: " + "; ".join(f"{w}x{h}{_read_as(geometry, settings)} {lut.origin}"
                                    for ((w, h), geometry), lut in luts.items())
               + f"; shared with {processes} through shared memory")
    make_folders(todo)
    with ExitStack() as stack:
        shared = {key: stack.enter_context(SharedArray(lut.array.shape, lut.array.dtype))
                  for key, lut in luts.items()}
        for key, array in shared.items():
            array.array[...] = luts[key].array
        pool_arguments = ({k: a.handle for k, a in shared.items()},
                          {k: (lut.spec, lut.checked, lut.graticule) for k, lut in luts.items()}, settings)
        stack.callback(remove_stray_temporaries, todo)
        for start in range(MAX_POOL_STARTS):
            last = start == MAX_POOL_STARTS - 1
            todo = _run_pool(todo, workers, pool_arguments, results, fail_fast, progress, retry=not last)
            if not todo:
                break
    return [results[item] for item in items if item in results]


def _run_pool(todo, workers, pool_arguments, results, fail_fast, progress, retry):
    """One pool over ``todo``; returns the items a dying worker left unfinished (when ``retry``)."""
    executor = process_pool(workers, _attach_luts, pool_arguments)
    broken = []
    try:
        pending = {executor.submit(_convert_in_worker, item): item for item in todo}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                item = pending.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    if retry:
                        broken.append(item)
                        continue
                    result = ItemResult(str(item.input), str(item.output), "failed",
                                        reason="its worker process died (again)")
                except Exception as err:  # e.g. a result that could not be sent back
                    result = failed_task(item, err)
                results[item] = result
                if progress:
                    progress(result)
                if fail_fast and result.status == "failed":
                    for other in pending:
                        other.cancel()
                    pending = {f: i for f, i in pending.items() if not f.cancelled()}
    except BaseException:
        shutdown(executor, abandon=True)
        raise
    shutdown(executor)
    return broken
