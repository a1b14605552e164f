"""Make the README's gallery: every projection as a thumbnail of the embedded map, docs/gallery/*.jpg.

Run from the repository root: ``python docs/make_gallery.py [FOLDER]`` (default: docs/gallery/);
``--markdown`` prints the README's gallery table instead. Each thumbnail is one ``polewarp
convert`` of the embedded map centred on 40N 30W, north up (the command is in the table), so
with Pillow PILLOW_VERSION the files come out byte for byte the same (tests/test_docs_gallery.py).
"""

from __future__ import annotations

import contextlib
import shlex
import sys
from pathlib import Path

PILLOW_VERSION = "13.0.0"
WIDTH = 320
ASPECT = "--center 40,-30 --heading 0"
COLUMNS = 3


def command(name: str) -> str:
    """The convert that makes projection ``name``'s thumbnail."""
    return f"polewarp convert --to {name} {ASPECT} --size {WIDTH} --quality 80 -o {name}.jpg"


def names() -> list[str]:
    from polewarp.engine.projections import NAMES

    return list(NAMES)


def run(line: str) -> None:
    """Run one polewarp command line in this process."""
    from polewarp.cli import cli

    words = shlex.split(line)
    assert words[0] == "polewarp", line
    cli.main(args=["-q", *words[1:]], prog_name="polewarp", standalone_mode=False)


def make_gallery(target: Path, only: list[str] | None = None) -> list[Path]:
    """Write the thumbnails (of ``only``, or of every projection) into ``target``."""
    target = Path(target).resolve()
    target.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(target):
        for name in only or names():
            run(command(name))
    return [target / f"{name}.jpg" for name in only or names()]


def markdown() -> str:
    """The README's gallery: a table of thumbnails, each with its projection and command."""
    from polewarp.engine.projections import PROJECTIONS

    cells = [f"![{name}](docs/gallery/{name}.jpg)<br>**{name}** ({PROJECTIONS[name].short})<br>"
             f"`{command(name)}`" for name in names()]
    rows = [cells[i:i + COLUMNS] + [""] * (COLUMNS - len(cells[i:i + COLUMNS])) for i in range(0, len(cells), COLUMNS)]
    lines = ["| " + " | ".join([" "] * COLUMNS) + " |", "|" + "---|" * COLUMNS]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main() -> None:
    from PIL import __version__ as pillow

    if "--markdown" in sys.argv:
        print(markdown())
        return
    if pillow != PILLOW_VERSION:
        print(f"warning: Pillow {pillow}, not {PILLOW_VERSION}: the JPEG bytes may differ", file=sys.stderr)
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    target = Path(args[0]) if args else Path(__file__).resolve().parent / "gallery"
    for path in make_gallery(target):
        print(path)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's polewarp
    main()
