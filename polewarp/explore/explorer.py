"""The explorer's work behind the HTTP routes: frames of the newest view, drags, and Save.

Requests arrive as parsed JSON; every value is validated (``views``) before use, frames go
through the newest-wins mailbox to the one render thread, and Save runs the normal pipeline
(`convert_file`, cache included) into the save folder under a name made here.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

from ..engine.drag import solve_drag
from ..engine.embedded import input_geometry
from ..engine.errors import SpecError
from ..engine.geometry import Geometry
from ..engine.imageio import EncoderOptions, read_image
from ..engine.pipeline import DEFAULT_BUILD, BuildOptions, ConvertRequest, convert_file
from . import views
from .mailbox import LatestOnly
from .preview import FORMATS, Previewer

SAVE_NAME = "polewarp-{to}-{number:03d}.png"


@dataclasses.dataclass(frozen=True)
class Frame:
    """A rendered preview and what the page learns with it."""

    image: bytes
    content_type: str
    geometry: Geometry
    size: tuple[int, int]
    command: str


@dataclasses.dataclass(frozen=True)
class Settings:
    """What `polewarp explore` was started with."""

    input_path: Path
    start: Geometry = Geometry()
    input_options: dict | None = None  # as ConvertRequest's: how the input's embedded geometry is read
    save_size: tuple[int, ...] | None = None  # Save's size unless the page gives one (None: the input's width)
    shown_input: Path | None = None  # the input as the command line names it (None: the embedded map)
    save_dir: Path = Path(".")
    build: BuildOptions = DEFAULT_BUILD
    cache: object = None  # a LutCache, or None
    fill: str | None = None
    graticule_color: str | None = None
    encoder: EncoderOptions = EncoderOptions()
    workers: int | None = None  # the previews' threads


class Explorer:
    """One explorer: the input read once, the render thread, the save folder."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.picture = read_image(settings.input_path)
        self.input_size = self.picture.size
        # the start view reads the input as convert would: by its embedded geometry, unless told
        self.start = input_geometry(settings.start, self.picture.geometry, settings.input_options)
        self._previewer = Previewer(self.picture, settings.fill, settings.graticule_color, settings.workers)
        self._save_lock = threading.Lock()
        self._mailbox = LatestOnly(self._render)

    def start_info(self) -> dict:
        """The page's start: the first view, the input's size, the menus' choices."""
        return {"geometry": self.start.to_dict(), "input_size": list(self.input_size),
                "save_size": list(self.settings.save_size or self.input_size[:1]),
                "fields": list(views.FIELDS), **views.choices()}

    def frame(self, body) -> Frame | None:
        """The frame of the view ``body`` asks for (a geometry, the page's box, optionally a drag
        from that geometry); None when a newer request replaced it or a drag left the map."""
        order = self._mailbox.arrival()
        request = _object(body, "request", ("geometry", "box", "drag", "format"))
        geometry = views.geometry_of(request.get("geometry"), self.start)
        fmt = request.get("format", "jpeg")
        if fmt not in FORMATS:
            raise SpecError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}", param="format")
        spec = geometry.spec(self.input_size, views.preview_size(geometry, request.get("box")))
        drag = request.get("drag")
        if drag is not None:
            drag = _object(drag, "drag", ("anchor", "pointer"))
            geometry = solve_drag(spec, views.position(drag.get("anchor"), "anchor"),
                                  views.position(drag.get("pointer"), "pointer"))
            if geometry is None:
                return None
            spec = geometry.spec(self.input_size, spec.output_size)
        return self._mailbox.submit((spec, fmt), order)

    def _render(self, job) -> Frame:
        spec, fmt = job
        command = views.command_line(spec.geometry, self.settings.shown_input,
                                     graticule_color=self.settings.graticule_color)
        return Frame(self._previewer.frame(spec, fmt), FORMATS[fmt][1], spec.geometry, spec.output_size, command)

    def save(self, body) -> dict:
        """Render the view through the pipeline into the save folder: the name written, its size
        and the command that writes the same file."""
        request = _object(body, "request", ("geometry", "size"))
        geometry = views.geometry_of(request.get("geometry"), self.start)
        size = views.save_size(request.get("size"), self.settings.save_size or self.input_size[:1])
        geometry.spec(self.input_size, size)  # a bad size or geometry is refused before any work
        settings = self.settings
        with self._save_lock:  # one save at a time: the free name stays free until written
            name = self._free_name(geometry.to)
            target = settings.save_dir / name
            request = ConvertRequest(settings.input_path, target, geometry, size, fill=settings.fill,
                                     graticule_color=settings.graticule_color, encoder=settings.encoder)
            lut, written = convert_file(request, settings.build, settings.cache)
        return {"name": name, "bytes": written, "size": list(lut.spec.output_size),
                "command": views.command_line(geometry, settings.shown_input, size, name, settings.graticule_color)}

    def _free_name(self, to: str) -> str:
        number = 1
        while (self.settings.save_dir / SAVE_NAME.format(to=to, number=number)).exists():
            number += 1
        return SAVE_NAME.format(to=to, number=number)

    def close(self) -> None:
        """Drop the waiting requests and stop the render thread (the frame in progress ends first)."""
        self._mailbox.close()


def _object(body, name: str, keys: tuple[str, ...]) -> dict:
    """``body`` if it is a JSON object of the given keys only."""
    if not isinstance(body, dict):
        raise SpecError(f"{name} must be a JSON object")
    unknown = sorted(set(body) - set(keys))
    if unknown:
        raise SpecError(f"{name}: unknown field {unknown[0]!r}; known: {', '.join(keys)}")
    return body


def frame_headers(frame: Frame) -> dict:
    """The headers that tell the page which view a frame shows (ASCII JSON)."""
    return {"X-Polewarp-Geometry": json.dumps(frame.geometry.to_dict()),
            "X-Polewarp-Size": f"{frame.size[0]}x{frame.size[1]}",
            "X-Polewarp-Command": json.dumps(frame.command)}  # JSON: a path may not be ASCII
