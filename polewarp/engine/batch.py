"""Batch conversion: plan the outputs, share one LUT per input size, convert on a process pool.

The LUTs are built (or loaded from the cache) in the parent, copied once into shared-memory
segments the parent owns, and attached by every worker in the pool initializer: never pickled.
Each worker reads, gathers and writes whole images; only a small result record comes back.
Every option and path is checked before anything is created; after that, whatever goes wrong
with one image is that image's failure and the batch goes on.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import string
import time
import traceback
import warnings
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from pathlib import Path, PurePath

from .errors import ImageError, PolewarpError, SpecError
from .geometry import GeometrySpec
from .imageio import (
    DEFAULT_MAX_PIXELS,
    EXTENSIONS,
    FORMATS,
    EncoderOptions,
    check_fill,
    check_storable,
    output_format,
    probe_size,
    read_image,
    write_image,
)
from .lut import Lut
from .pipeline import DEFAULT_BUILD, BuildOptions, obtain_lut, prepare, render
from .workers import SharedArray, attach, process_pool, shutdown, worker_signals

IMAGE_SUFFIXES = frozenset(FORMATS)
TEMPLATE_FIELDS = {"stem", "ext"}
NAME_MAX = 255  # bytes in one file name on the usual filesystems (Linux, macOS, Windows)


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
    details: str | None = None  # the traceback of an unexpected failure, for --debug
    warnings: list[str] = dataclasses.field(default_factory=list)  # Pillow's, about damage it read past


@dataclasses.dataclass(frozen=True)
class BatchSettings:
    """Everything every image of the batch shares, checked when made (not once per image)."""

    geometry: dict
    fill: str | None = None
    encoder: EncoderOptions = EncoderOptions()
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self):
        # The option-level checks do not depend on the input size: any size shows them.
        GeometrySpec(input_size=(2, 1), **self.geometry)
        if self.fill is not None:
            check_fill(self.fill)


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


def _check_format_spec(template: str, spec: str) -> None:
    """A field's format spec may pad or cut the text, within a file name's length."""
    if "{" in spec:
        raise SpecError(f"--name {template!r}: no fields inside a field's format")
    if any(int(number) > NAME_MAX for number in re.findall(r"\d+", spec)):
        raise SpecError(f"--name {template!r}: widths and precisions go up to {NAME_MAX}")


def check_template(template: str) -> None:
    """--name: {stem} once or more, {ext} if wanted, plain or with a string format; nothing else."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as err:
        raise SpecError(f"--name {template!r}: {err}") from None
    names = {name for _, name, _, _ in fields if name is not None}
    if names - TEMPLATE_FIELDS or "stem" not in names:
        raise SpecError(f"--name {template!r} must use {{stem}} and may use {{ext}} only")
    for _, _, spec, conversion in fields:
        if conversion is not None:
            raise SpecError(f"--name {template!r}: no conversions (!{conversion}) in a name")
        if spec:
            _check_format_spec(template, spec)
    try:
        template.format(stem="stem", ext="png")
    except ValueError as err:
        raise SpecError(f"--name {template!r}: {err}") from None


def check_name(name: str, template: str) -> None:
    """A formatted output name stays inside OUT-DIR and ends with an image extension."""
    path = PurePath(name)
    if "\0" in name or not path.parts:
        raise SpecError(f"--name {template!r} gives {name!r}, which is not a file name")
    if path.is_absolute() or path.drive or ".." in path.parts:
        raise SpecError(f"--name {template!r} gives {name!r}, outside the output folder: "
                        "outputs stay inside -o/--out-dir")
    if path.suffix.lower() not in FORMATS:
        raise SpecError(f"--name {template!r} gives {name!r}, with no image extension: end it with "
                        ".{ext} or one of " + " ".join(sorted(FORMATS)))
    if any(len(os.fsencode(part)) > NAME_MAX for part in path.parts):
        raise SpecError(f"--name {template!r} gives a name over {NAME_MAX} bytes: {name[:60]}...")


def output_extension(source: Path, fmt: str | None) -> str:
    """The usual extension of --format, else of the input's own format."""
    if fmt:
        key = fmt.lower() if fmt.lower().startswith(".") else "." + fmt.lower()
        if key not in FORMATS:
            raise SpecError(f"unknown format {fmt!r}; use one of {' '.join(sorted(EXTENSIONS.values()))}")
        return EXTENSIONS[FORMATS[key]]
    return EXTENSIONS[FORMATS.get(source.suffix.lower(), "PNG")]


def _real(path) -> Path:
    """The path with every symlink followed; a symlink loop stays as it is (never raises)."""
    return Path(os.path.realpath(path))


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists; a dangling or looping symlink on the way is
    refused (the folder could never be made there)."""
    while not path.exists() and path != path.parent:
        if path.is_symlink():
            raise SpecError(f"-o/--out-dir: {path} is a broken symlink or a symlink loop")
        path = path.parent
    return path


def unwritable(folder: Path) -> str | None:
    """Why nothing can be created in ``folder``, or None when it can."""
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    read_only = os.statvfs(folder).f_flag & os.ST_RDONLY
    return f"cannot write in {folder} ({'a read-only filesystem' if read_only else 'permission denied'})"


def check_out_dir(out_dir: Path) -> None:
    """-o/--out-dir is a folder, or can be made as one: no file on the way, a writable parent."""
    existing = _nearest_existing(out_dir)
    if not existing.is_dir():
        what = "is a file" if existing == out_dir else f"is under {existing}, which is not a folder"
        raise SpecError(f"-o/--out-dir {out_dir} {what}")
    if why := unwritable(existing):
        raise SpecError(f"-o/--out-dir {out_dir}: {why}")


def check_report(report: Path, items) -> None:
    """--report goes into a writable folder (or one the batch makes), over nothing of the batch."""
    target = _real(report)
    if target in {_real(item.input) for item in items}:
        raise SpecError(f"--report {report} would write over an input")
    if target in {_real(item.output) for item in items}:
        raise SpecError(f"--report {report} would write over an output")
    output_folders = {_real(item.output.parent) for item in items}
    if any(target == folder or target in folder.parents for folder in output_folders):
        raise SpecError(f"--report {report} is where the output folder goes")
    folder = report.parent
    if _real(folder) in output_folders:
        return  # made with the outputs (-o was checked)
    if not folder.is_dir():
        raise SpecError(f"--report {report}: the folder {folder} does not exist")
    if why := unwritable(folder):
        raise SpecError(f"--report {report}: {why}")


def _plan_problems(items, overwrite: bool, skip_existing: bool) -> list[str]:
    """What stops the plan: two inputs to one output, an output over an input, existing outputs."""
    by_output = {}
    for item in items:
        by_output.setdefault(_real(item.output), []).append(item.input)
    problems = [f"{', '.join(map(str, sources))} -> one output {output}"
                for output, sources in by_output.items() if len(sources) > 1]
    real_inputs = {_real(item.input) for item in items}
    over_input = {item for item in items if _real(item.output) in real_inputs}
    problems += [f"{item.output} would write over an input (choose another -o/--out-dir or a --name "
                 "unlike the inputs' names)" for item in items if item in over_input]
    if not (overwrite or skip_existing):
        problems += [f"{item.output} exists (use --overwrite or --skip-existing)" for item in items
                     if item not in over_input and item.output.exists()]
    return problems


def plan(inputs, out_dir, template="{stem}.{ext}", fmt=None, recursive=False, overwrite=False,
         skip_existing=False, report=None) -> list[BatchItem]:
    """The outputs, checked before any work (nothing is created): names inside ``out_dir``, no
    two inputs to one output, no output over an input, no existing output unless overwrite or
    skip_existing, and a --report path that can be written over nothing of the batch."""
    check_template(template)
    if overwrite and skip_existing:
        raise SpecError("--overwrite and --skip-existing contradict each other")
    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    items = []
    for source, relative in expand_inputs(inputs, recursive):
        name = template.format(stem=source.stem, ext=output_extension(source, fmt))
        check_name(name, template)
        items.append(BatchItem(source, out_dir / relative / name))
    if not items:
        raise SpecError("no input images found")
    problems = _plan_problems(items, overwrite, skip_existing)
    if problems:
        raise SpecError("the plan has problems:\n  " + "\n  ".join(problems))
    if report is not None:
        check_report(Path(report), items)
    if skip_existing:
        items = [dataclasses.replace(item, skip=item.output.exists()) for item in items]
    return items


def make_folders(items) -> None:
    """Create the output folders, once every check has passed and just before the first image."""
    for folder in sorted({Path(item.output).parent for item in items}):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise PolewarpError(f"{folder}: cannot create the output folder: {err.strerror or err}") from None


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


def one_line(err: BaseException) -> str:
    """An exception as one line: its type (for those polewarp did not expect) and first line."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, (PolewarpError, OSError)) and text:
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _lut_for(size, luts, settings: BatchSettings):
    """The LUT planned for this size; a size with none fails with the reason it has none."""
    lut = luts.get(size)
    if lut is None:
        GeometrySpec(input_size=size, **settings.geometry)  # raises why this size has no LUT
        raise PolewarpError(f"{size[0]}x{size[1]}: size changed since planning")
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
        picture = prepare(read_image(item.input, settings.max_pixels), settings.geometry.get("resample", "nearest"))
        result.size = picture.size
        stage = "convert"
        lut = _lut_for(picture.size, luts, settings)
        check_storable(picture.mode, output_format(item.output))
        pixels = render(picture, lut, settings.fill)
        stage = "write"
        result.bytes = write_image(item.output, pixels, settings.encoder)
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

    for item in items:
        for stray in temporaries_for(item.output):
            stray.unlink(missing_ok=True)


def _usable_spec(size, settings: BatchSettings) -> GeometrySpec | None:
    """The spec for an input size, or None for a size no image of it can be converted at (over
    --max-pixels, or refused by the geometry): a header must not make the batch build a LUT
    for a damaged file, and its images fail one by one with the reason."""
    if size[0] * size[1] > settings.max_pixels:
        return None
    try:
        return GeometrySpec(input_size=size, **settings.geometry)
    except SpecError:
        return None


def luts_for(items, settings: BatchSettings, build: BuildOptions, cache) -> dict:
    """One LUT per distinct usable input size (from the cache, or built once)."""
    sizes = {size for size in map(probe_size, (item.input for item in items if not item.skip)) if size}
    specs = {size: _usable_spec(size, settings) for size in sorted(sizes)}
    return {size: obtain_lut(spec, build, cache) for size, spec in specs.items() if spec is not None}


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
        processes = f"{workers} worker process{'es' if workers != 1 else ''}"
        report("LUTs: " + "; ".join(f"{w}x{h} {lut.origin}" for (w, h), lut in luts.items())
               + f"; shared with {processes} through shared memory")
    make_folders(todo)
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
