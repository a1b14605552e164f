"""Batch planning: the inputs expanded, the output names made from the template, and every check
of the plan (collisions, outputs over inputs, existing outputs, -o and --report) before any work.

Nothing here starts a process, imports numba or touches shared memory, so that a plan (and
--dry-run) costs only what the file system answers. Nothing is created until make_folders,
which a run calls just before its first image.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import string
from pathlib import Path, PurePath

from .errors import PolewarpError, SpecError
from .geometry import Geometry
from .imageio import DEFAULT_MAX_PIXELS, EXTENSIONS, FORMATS, EncoderOptions, check_fill

IMAGE_SUFFIXES = frozenset(FORMATS)
TEMPLATE_FIELDS = {"stem", "ext"}
NAME_MAX = 255  # bytes in one file name on the usual filesystems (Linux, macOS, Windows)


@dataclasses.dataclass(frozen=True)
class BatchItem:
    """One planned conversion."""

    input: Path
    output: Path
    skip: bool = False  # the output exists and --skip-existing was given


@dataclasses.dataclass(frozen=True)
class BatchSettings:
    """Everything every image of the batch shares, checked when made (not once per image)."""

    geometry: Geometry = Geometry()
    size: tuple[int, ...] | None = None  # the output size asked for (see GeometrySpec)
    fill: str | None = None
    encoder: EncoderOptions = EncoderOptions()
    max_pixels: int = DEFAULT_MAX_PIXELS
    input_options: dict | None = None  # as ConvertRequest's: None, or the --from* on top of an input's geometry
    graticule_color: str | None = None

    def __post_init__(self):
        # The checks that do not depend on the input size: any size shows them.
        self.geometry.spec((2, 1), self.size)
        for color in (self.fill, self.graticule_color):
            if color is not None:
                check_fill(color)


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


def _plan_problems(items, overwrite: bool, skip_existing: bool, sidecars) -> list[str]:
    """What stops the plan: two inputs to one output, an output over an input, existing outputs
    (an output's sidecars, ``sidecars(output)``, count as outputs)."""
    by_output = {}
    for item in items:
        for output in (item.output, *sidecars(item.output)):
            by_output.setdefault(_real(output), []).append(item.input)
    problems = [f"{', '.join(map(str, sources))} -> one output {output}"
                for output, sources in by_output.items() if len(sources) > 1]
    real_inputs = {_real(item.input) for item in items}
    over_input = {item for item in items
                  if any(_real(output) in real_inputs for output in (item.output, *sidecars(item.output)))}
    problems += [f"{item.output} would write over an input (choose another -o/--out-dir or a --name "
                 "unlike the inputs' names)" for item in items if item in over_input]
    if not (overwrite or skip_existing):
        problems += [f"{output} exists (use --overwrite or --skip-existing)" for item in items
                     if item not in over_input for output in (item.output, *sidecars(item.output))
                     if output.exists()]
    return problems


def plan(inputs, out_dir, template="{stem}.{ext}", fmt=None, recursive=False, overwrite=False,
         skip_existing=False, report=None, sidecars=lambda output: ()) -> list[BatchItem]:
    """The outputs, checked before any work (nothing is created): names inside ``out_dir``, no
    two inputs to one output, no output over an input, no existing output unless overwrite or
    skip_existing, and a --report path that can be written over nothing of the batch.
    ``sidecars(output)``: the files written beside an output (georef.sidecar_paths)."""
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
    problems = _plan_problems(items, overwrite, skip_existing, sidecars)
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
