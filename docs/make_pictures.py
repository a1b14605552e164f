"""Make the README's pictures, docs/*.jpg, with polewarp's own command line and Pillow.

Run from the repository root: ``python docs/make_pictures.py [FOLDER]`` (default: docs/).
Every picture is a ``polewarp convert`` of the embedded map; the labelled one is drawn over two
of them with Pillow's ImageDraw and the font that ships with Pillow. Nothing depends on the
clock or the machine, so with Pillow PILLOW_VERSION (whose wheels bundle the JPEG encoder and
the font rasteriser) the files come out byte for byte the same: tests/test_docs_pictures.py
checks that against the committed files.
"""

from __future__ import annotations

import contextlib
import math
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

PILLOW_VERSION = "13.0.0"
QUALITY = 85

# (kept file or None, command): run in order in a scratch folder, exactly as the README shows them.
COMMANDS = (
    ("transverse.jpg", "polewarp convert --size 1024x512 --quality 85 -o transverse.jpg"),
    ("oblique.jpg", "polewarp convert --center 40,-30 --heading 45 --size 1024x512 --quality 85 -o oblique.jpg"),
    ("identity.jpg",
     "polewarp convert --heading 0 --to equirectangular --size 1024x512 --quality 85 -o identity.jpg"),
    (None, "polewarp convert --heading 0 --lat-limit 85.0511287798 --size 1024x1024 -o mercator.png"),
    ("from-mercator.jpg", "polewarp convert mercator.png --from mercator --center 0,-90 --heading 0 "
                          "--to equirectangular --size 1024x512 --quality 85 -o from-mercator.jpg"),
)

# The labelled picture: two panels, each a convert to PNG (so that only the final picture is lossy),
# with the title drawn on it.
PANELS = (
    ("polewarp convert --size 1024x512 -o panel-transverse.png",
     "the default: --center 0,0 --heading 90, Mercator",
     {"center": (0.0, 0.0), "heading": 90.0, "to": "mercator"}),
    ("polewarp convert --center 40,-30 --heading 45 --to equirectangular --size 1024x512 -o panel-oblique.png",
     "--center 40,-30 --heading 45 --to equirectangular",
     {"center": (40.0, -30.0), "heading": 45.0, "to": "equirectangular"}),
)
LABELLED = "center-heading.jpg"
PICTURES = tuple(name for name, _ in COMMANDS if name) + (LABELLED,)

YELLOW, CYAN, WHITE, BLACK = (255, 214, 10), (90, 220, 255), (255, 255, 255), (0, 0, 0)


def run(command: str) -> None:
    """Run one README command through polewarp's click group, in this process."""
    from polewarp.cli import cli

    words = shlex.split(command)
    assert words[0] == "polewarp", command
    cli.main(args=["-q", *words[1:]], prog_name="polewarp", standalone_mode=False)


def landing(spec, vector) -> tuple[float, float]:
    """Where a geographic unit vector lands in the output, in pixels (x right, y down): the
    inverse of the LUT's mapping, through the same rotation (docs/geometry.md)."""
    centre, east, pole = spec.geometry.frames()[0]
    extent = spec.output.bounds(spec.options("to"))[1]

    def dot(axis):
        return sum(a * b for a, b in zip(axis, vector, strict=True))

    rotated_lat = math.asin(max(-1.0, min(1.0, dot(pole))))
    rotated_lon = math.atan2(dot(east), dot(centre))
    ordinate = math.asinh(math.tan(rotated_lat)) if spec.to == "mercator" else rotated_lat
    width, height = spec.output_size
    return ((rotated_lon + math.pi) / (2 * math.pi) * width, (extent - ordinate) / (2 * extent) * height)


def unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    """The geographic point (degrees) as a unit vector: x to 0,0, y to 0,90E, z to the North Pole."""
    phi, lam = math.radians(lat), math.radians(lon)
    return math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)


NORTH_POLE, SOUTH_POLE = (0.0, 0.0, 1.0), (0.0, 0.0, -1.0)


def place(vector) -> str:
    """A unit vector as a place, e.g. 0N 90E (with degree signs)."""
    lat = math.degrees(math.asin(max(-1.0, min(1.0, vector[2])))) + 0.0
    lon = math.degrees(math.atan2(vector[1], vector[0])) + 0.0
    return f"{abs(lat):.3g}°{'N' if lat >= 0 else 'S'} {abs(lon):.3g}°{'E' if lon >= 0 else 'W'}"


def marks(geometry: dict, size=(1024, 512), input_size=(2048, 1024)) -> dict:
    """What a panel labels: the pixel positions of the centre and of the North and South Pole,
    the compass direction of north at the centre (a unit vector in pixels, towards a point 1
    degree north) and, in words, what the top and bottom edges show."""
    from polewarp.engine.geometry import GeometrySpec

    spec = GeometrySpec(input_size=input_size, output_size=size, **geometry)
    centre = landing(spec, unit_vector(*spec.center))
    step = landing(spec, unit_vector(spec.center[0] + 1.0, spec.center[1]))
    dx, dy = step[0] - centre[0], step[1] - centre[1]
    norm = math.hypot(dx, dy)
    pole = spec.geometry.frames()[0][2]
    if spec.to == "mercator":  # the edge is a small circle around the rotated pole
        edge_lat = math.degrees(math.atan(math.sinh(spec.output.bounds(spec.options("to"))[1])))
        within = f"within {90 - edge_lat:.1f}° of "
    else:  # the edge is the rotated pole itself, drawn as a line
        within = "all one point: "
    antipode = tuple(-component for component in pole)
    return {"centre": centre, "north": (dx / norm, dy / norm),
            "North Pole": landing(spec, NORTH_POLE), "South Pole": landing(spec, SOUTH_POLE),
            "top": f"top edge: {within}{place(pole)}", "bottom": f"bottom edge: {within}{place(antipode)}"}


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _text(draw, at, words, colour=WHITE, size=18, anchor="la") -> None:
    draw.text(at, words, fill=colour, font=_font(size), anchor=anchor, stroke_width=3, stroke_fill=BLACK)


def _arrow(draw, start, direction, length, colour, width=4) -> tuple[float, float]:
    """A line from ``start`` along the unit ``direction`` with a filled head; returns the tip."""
    tip = (start[0] + direction[0] * length, start[1] + direction[1] * length)
    back = (tip[0] - direction[0] * 16, tip[1] - direction[1] * 16)
    side = (-direction[1] * 8, direction[0] * 8)
    for stroke, grow in ((BLACK, 3), (colour, 0)):
        draw.line([start, back], fill=stroke, width=width + 2 * grow)
        draw.polygon([tip, (back[0] + side[0], back[1] + side[1]), (back[0] - side[0], back[1] - side[1])],
                     fill=colour, outline=stroke, width=grow or 1)
    return tip


def _dot(draw, at, colour, radius=7) -> None:
    draw.ellipse([at[0] - radius, at[1] - radius, at[0] + radius, at[1] + radius], fill=colour, outline=BLACK,
                 width=2)


def annotate(image, geometry: dict, title: str):
    """Draw the centre, the heading arrow (always straight up), north at the centre, the angle
    between them, where the geographic poles land and what the top and bottom edges are."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    found = marks(geometry, image.size)
    cx, cy = found["centre"]
    heading = geometry["heading"]
    for pole in ("North Pole", "South Pole"):
        x, y = found[pole]
        _dot(draw, (x, y), WHITE)
        _text(draw, (x, y - 14), pole, anchor="md")
    up = _arrow(draw, (cx, cy), (0.0, -1.0), 130, YELLOW)
    _text(draw, (up[0] + 12, up[1] + 4), f"up: heading {heading:g}°", YELLOW)
    north = _arrow(draw, (cx, cy), found["north"], 80, CYAN)
    _text(draw, (north[0] - 6, north[1] - 8), "north", CYAN, anchor="rd")
    north_angle = math.degrees(math.atan2(found["north"][1], found["north"][0])) % 360.0
    first, last = sorted((north_angle, 270.0))  # PIL's arcs run clockwise from 3 o'clock
    draw.arc([cx - 44, cy - 44, cx + 44, cy + 44], first, last, fill=WHITE, width=3)
    middle = math.radians((first + last) / 2)
    _text(draw, (cx + 72 * math.cos(middle), cy + 72 * math.sin(middle)), f"{heading:g}°", anchor="mm")
    _dot(draw, (cx, cy), YELLOW, radius=6)
    _text(draw, (cx + 14, cy + 12), "centre: --center {:g},{:g}".format(*geometry["center"]), YELLOW)
    _text(draw, (8, 8), title, size=20)
    _text(draw, (image.width - 8, 10), found["top"], anchor="ra")
    _text(draw, (image.width / 2, image.height - 8), found["bottom"], anchor="md")
    return image


def labelled_picture(folder: Path):
    """The two panels, annotated and stacked: the default aspect over an oblique one."""
    from PIL import Image

    panels = []
    for command, title, geometry in PANELS:
        run(command)
        with Image.open(folder / shlex.split(command)[-1]) as panel:
            panels.append(annotate(panel.convert("RGB"), geometry, title))
    width = panels[0].width
    picture = Image.new("RGB", (width, sum(p.height for p in panels) + 4 * (len(panels) - 1)), BLACK)
    for i, panel in enumerate(panels):
        picture.paste(panel, (0, i * (panel.height + 4)))
    return picture


def make_pictures(target: Path) -> list[Path]:
    """Write every picture into ``target``; returns their paths."""
    target = Path(target).resolve()
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
        for _, command in COMMANDS:
            run(command)
        labelled_picture(Path(scratch)).save(LABELLED, quality=QUALITY)
        for name in PICTURES:
            shutil.copyfile(name, target / name)
    return [target / name for name in PICTURES]


def main() -> None:
    from PIL import __version__ as pillow

    if pillow != PILLOW_VERSION:
        print(f"warning: Pillow {pillow}, not {PILLOW_VERSION}: the JPEG bytes may differ", file=sys.stderr)
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for path in make_pictures(target):
        print(path)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's polewarp
    main()
