"""Batch conversion: plan the outputs, share one LUT per input size, convert on a process pool.

The LUTs are built (or loaded from the cache) in the parent, copied once into shared-memory
segments the parent owns, and attached by every worker in the pool initializer: never pickled.
Each worker reads, gathers and writes whole images; only a small result record comes back.
"""

from __future__ import annotations

import dataclasses
import glob
import string
import time
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from pathlib import Path

from PIL import Image

from .errors import PolewarpError, SpecError
from .geometry import GeometrySpec
from .imageio import (
    DEFAULT_MAX_PIXELS,
    EXTENSIONS,
    FORMATS,
    EncoderOptions,
    check_storable,
    output_format,
    read_image,
    write_image,
)
from .lut import Lut
from .pipeline import DEFAULT_BUILD, BuildOptions, obtain_lut, prepare, render
from .workers import SharedArray, attach, process_pool, shutdown, worker_signals

IMAGE_SUFFIXES = frozenset(FORMATS)
TEMPLATE_FIELDS = {"stem", "ext"}


@dataclasses.dataclass(frozen=True)
class BatchItem:
    """One planned conversion."""

    input: Path
    output: Path
    skip: bool = False  # the output exists and --skip-existing was given


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


@dataclasses.dataclass(frozen=True)
class BatchSettings:
    """Everything every image of the batch shares."""

    geometry: dict
    fill: str | None = None
    encoder: EncoderOptions = EncoderOptions()
    max_pixels: int = DEFAULT_MAX_PIXELS


def _folder_images(folder: Path, recursive: bool):
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def expand_inputs(inputs, recursive: bool = False) -> list[tuple[Path, Path]]:
    """(file, folder relative to its root) for every input: files as given, folders' images
    (their subfolders' too with ``recursive``), glob patterns expanded."""
    found = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            found += [(file, file.parent.relative_to(path)) for file in _folder_images(path, recursive)]
        elif path.exists() or not glob.has_magic(text):
            found.append((path, Path()))  # named explicitly: always tried
        else:
            matches = sorted(Path(match) for match in glob.glob(text, recursive=recursive))
            if not matches:
                raise SpecError(f"{text}: no file matches")
            found += [(match, Path()) for match in matches if match.is_file()]
    return found


def check_template(template: str) -> None:
    """Only {stem} and {ext} may appear in an output name template."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as err:
        raise SpecError(f"name template {template!r}: {err}") from None
    unknown = fields - TEMPLATE_FIELDS
    if unknown or "stem" not in fields:
        raise SpecError(f"name template {template!r} must use {{stem}} and may use {{ext}} only")


def output_extension(source: Path, fmt: str | None) -> str:
    """The usual extension of --format, else of the input's own format."""
    if fmt:
        key = fmt.lower() if fmt.lower().startswith(".") else "." + fmt.lower()
        if key not in FORMATS:
            raise SpecError(f"unknown format {fmt!r}; use one of {' '.join(sorted(EXTENSIONS.values()))}")
        return EXTENSIONS[FORMATS[key]]
    return EXTENSIONS[FORMATS.get(source.suffix.lower(), "PNG")]


def plan(inputs, out_dir, template="{stem}.{ext}", fmt=None, recursive=False, overwrite=False,
         skip_existing=False) -> list[BatchItem]:
    """The outputs, checked before any work: no two inputs to one output, no output over an
    input, no existing output unless overwrite or skip_existing."""
    check_template(template)
    if overwrite and skip_existing:
        raise SpecError("--overwrite and --skip-existing contradict each other")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise SpecError(f"{out_dir}: the output folder is a file")
    items, by_output = [], {}
    for source, relative in expand_inputs(inputs, recursive):
        name = template.format(stem=source.stem, ext=output_extension(source, fmt))
        items.append(BatchItem(source, out_dir / relative / name))
        by_output.setdefault(items[-1].output.resolve(), []).append(source)
    if not items:
        raise SpecError("no input images found")
    problems = [f"{', '.join(map(str, sources))} -> one output {output}"
                for output, sources in by_output.items() if len(sources) > 1]
    resolved_inputs = {item.input.resolve() for item in items}
    problems += [f"{item.output} would write over an input" for item in items
                 if item.output.resolve() in resolved_inputs]
    existing = [item for item in items if item.output.exists()]
    if existing and not (overwrite or skip_existing):
        problems += [f"{item.output} exists (use --overwrite or --skip-existing)" for item in existing]
    if problems:
        raise SpecError("the plan has problems:\n  " + "\n  ".join(problems))
    if skip_existing:
        items = [dataclasses.replace(item, skip=item.output.exists()) for item in items]
    return items


def probe_size(path: Path):
    """The image size from its header only, or None when it cannot be read (it fails later)."""
    try:
        with Image.open(path) as image:
            return image.size
    except Exception:  # any unreadable file is reported by its conversion
        return None


# --- the pool ---------------------------------------------------------------------------------

@dataclasses.dataclass
class _BatchWorker:
    """One worker's state: the attached LUTs by input size, and the shared settings."""

    segments: list
    luts: dict
    settings: BatchSettings


_worker: _BatchWorker | None = None


def _attach_luts(handles: dict, specs: dict, settings: BatchSettings) -> None:
    """Pool initializer: attach every LUT segment once."""
    global _worker
    worker_signals()
    segments, luts = [], {}
    for size, handle in handles.items():
        segment, array = attach(handle)
        segments.append(segment)
        luts[size] = Lut(array, specs[size], "shared")
    _worker = _BatchWorker(segments, luts, settings)


def convert_one(item: BatchItem, luts: dict, settings: BatchSettings) -> ItemResult:
    """Read, gather and write one image; a bad file becomes a failed record, not an exception."""
    start = time.perf_counter()
    result = ItemResult(str(item.input), str(item.output), "failed")
    try:
        picture = prepare(read_image(item.input, settings.max_pixels), settings.geometry.get("resample", "nearest"))
        result.size = picture.size
        lut = luts.get(picture.size)
        if lut is None:
            raise PolewarpError(f"{picture.size[0]}x{picture.size[1]}: size changed since planning")
        check_storable(picture.mode, output_format(item.output))
        item.output.parent.mkdir(parents=True, exist_ok=True)
        result.bytes = write_image(item.output, render(picture, lut, settings.fill), settings.encoder)
        result.status = "converted"
    except (PolewarpError, OSError) as err:
        result.reason = str(err).removeprefix(f"{item.input}: ")
    result.seconds = time.perf_counter() - start
    return result


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
    for item in items:
        output = Path(item.output)
        for stray in output.parent.glob(f".{glob.escape(output.name)}.*.tmp"):
            stray.unlink(missing_ok=True)


def luts_for(items, settings: BatchSettings, build: BuildOptions, cache) -> dict:
    """One LUT per distinct input size (from the cache, or built once)."""
    sizes = {size for size in map(probe_size, (item.input for item in items if not item.skip)) if size}
    return {size: obtain_lut(GeometrySpec(input_size=size, **settings.geometry), build, cache)
            for size in sorted(sizes)}


MAX_POOL_STARTS = 3  # a pool broken by a dying worker is restarted for the images left


def run_batch(items, settings: BatchSettings, workers: int = 1, build: BuildOptions = DEFAULT_BUILD,
              cache=None, fail_fast: bool = False, progress=None, report=None) -> list[ItemResult]:
    """Convert every item; returns one result per item, in the plan's order.

    ``progress(result)`` is called as each item finishes, ``report(text)`` once with where the
    LUTs came from. With ``fail_fast`` the first failure cancels what has not started. When a
    worker dies (killed, out of memory) the images it left unfinished are retried in a new pool,
    up to MAX_POOL_STARTS pools. Shared memory is unlinked and pools shut down on every path.
    """
    results, todo = split_skipped(items, progress)
    luts = luts_for(todo, settings, build, cache)
    if report:
        report("LUTs: " + "; ".join(f"{w}x{h} {lut.origin}" for (w, h), lut in luts.items())
               + f"; shared with {workers} worker processes through shared memory")
    with ExitStack() as stack:
        shared = {size: stack.enter_context(SharedArray(lut.array.shape, lut.array.dtype))
                  for size, lut in luts.items()}
        for size, array in shared.items():
            array.array[...] = luts[size].array
        pool_arguments = ({s: a.handle for s, a in shared.items()}, {s: lut.spec for s, lut in luts.items()},
                          settings)
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
