"""The geometry an image carries in its own metadata: written into every output, read back as
the input's projection and aspect, so that a map polewarp made converts back with no --from*.

The document (docs/geometry.md, "Embedded geometry") is a small versioned JSON: what the image
is a map of ("map", read back as the input side) and what it was made from ("source"), each a
projection with its options written out, an aspect and the bounds its framing covers. No
timestamps, fixed key order: equal runs write equal bytes. A file's metadata is outside input:
it is validated strictly, and anything wrong is a warning and a plain map, never a failure.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from .errors import SpecError
from .geometry import Geometry, option_name
from .projections import DEFAULT_MERCATOR_EXTENT, NAMES, OPTIONS, projection

log = logging.getLogger("polewarp")

VERSION = 1
KEY = "polewarp:geometry"  # the PNG iTXt keyword
XMP_NAMESPACE = "https://github.com/polewarp/polewarp/ns/geometry/1.0/"
MAX_TEXT = 16 * 1024  # a version 1 document is ~600 bytes; a longer one is not ours
MAX_XMP = 1024 * 1024  # other programs keep their own XMP beside ours
FORMATS = frozenset(("PNG", "TIFF", "JPEG", "WEBP"))  # those with a place for it (docs/embedded-geometry.md)
_INPUT_OPTIONS = frozenset(option_name(option, "from") for option in OPTIONS)
# from_bounds: a region (engine/georef.py) is read like the other input options
INPUT_FIELDS = frozenset(("from_", "from_center", "from_heading", "from_bounds")) | _INPUT_OPTIONS
# A Mercator output's top latitude when --lat-limit leaves it to the original script's extent: a
# Mercator input's default is the web-map limit, so the document writes it out.
MERCATOR_TOP = round(math.degrees(math.atan(math.sinh(DEFAULT_MERCATOR_EXTENT))), 9)
_MARK = '{"polewarp":'  # how a document begins: shared places (ImageDescription) hold other text too
_SIDE_KEYS = ("projection", "center", "heading", "options", "bounds")


def _side(geometry: Geometry, side: str) -> dict:
    """One side as the document holds it: every option the projection takes, its value written out."""
    entry = geometry.output if side == "to" else geometry.input
    options = geometry.options(side)
    top = MERCATOR_TOP if side == "to" and entry.name == "mercator" else 90.0  # what None means here
    values = {option: top if options[option] is None else options[option] for option in entry.options}
    center, heading = (geometry.center, geometry.heading) if side == "to" else (
        geometry.from_center, geometry.from_heading)
    return {"projection": entry.name, "center": list(center), "heading": heading, "options": values,
            "bounds": list(entry.bounds(options))}


def document(geometry: Geometry) -> dict:
    """The version 1 document of the image a LUT of ``geometry`` makes."""
    return {"polewarp": VERSION, "map": _side(geometry, "to"), "source": _side(geometry, "from")}


def encode(geometry: Geometry) -> str:
    """The document as compact JSON, the same bytes for the same geometry."""
    return json.dumps(document(geometry), separators=(",", ":"), allow_nan=False)


def _refuse_constant(name):
    raise ValueError(f"{name} is not a number")


def _unique_keys(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key is repeated")
    return dict(pairs)


def _number(value, what: str) -> float:
    try:
        number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    except OverflowError:  # an integer of a thousand digits
        number = math.nan
    if not math.isfinite(number):
        raise SpecError(f"{what} is not a number")
    return number


def _exact_keys(data, keys, what: str) -> dict:
    if not isinstance(data, dict) or set(data) != set(keys):
        raise SpecError(f"{what} must hold exactly {', '.join(sorted(keys))}")
    return data


def _read_side(data, name: str) -> tuple[dict, tuple]:
    """One side's Geometry fields (as an output side), each value checked for its type, and the
    bounds it states."""
    data = _exact_keys(data, _SIDE_KEYS, name)
    if data["projection"] not in NAMES:
        raise SpecError(f"{name}: unknown projection {str(data['projection'])[:40]!r}")
    entry = projection(data["projection"])
    center = data["center"]
    if not isinstance(center, list) or len(center) != 2:
        raise SpecError(f"{name}: center must be [lat, lon]")
    options = _exact_keys(data["options"], entry.options, f"{name} options")
    bounds = data["bounds"]
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise SpecError(f"{name}: bounds must be [x, y]")
    fields = {"to": entry.name, "center": tuple(_number(v, f"{name} center") for v in center),
              "heading": _number(data["heading"], f"{name} heading")}
    fields.update({option: _number(value, f"{name} {option}") for option, value in options.items()})
    stated = tuple(_number(v, f"{name} bounds") for v in bounds)
    return fields, stated


def _check_bounds(entry, options: dict, stated, name: str) -> None:
    """The framing the writer used must be the one this version computes (or the map would shift)."""
    expected = entry.bounds(options)
    if not all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(stated, expected, strict=True)):
        raise SpecError(f"{name}: bounds {list(stated)} differ from {entry.name}'s {list(expected)}")


def decode(text: str) -> Geometry:
    """The Geometry (map side as the output, source side as the input) a document describes;
    a SpecError says why a text is not a valid version 1 document."""
    if len(text) > MAX_TEXT:
        raise SpecError(f"{len(text):,} characters, over the {MAX_TEXT:,} a geometry takes")
    try:
        data = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as err:
        raise SpecError(f"not JSON ({str(err)[:80]})") from None
    if not isinstance(data, dict) or "polewarp" not in data:
        raise SpecError("not a polewarp geometry")
    version = data["polewarp"]
    if isinstance(version, bool) or not isinstance(version, int) or version != VERSION:
        raise SpecError(f"unknown version {str(version)[:20]} (this polewarp reads version {VERSION})")
    data = _exact_keys(data, ("polewarp", "map", "source"), "the document")
    made, made_bounds = _read_side(data["map"], "map")
    source, source_bounds = _read_side(data["source"], "source")
    geometry = Geometry(**made, **{("from_" if key == "to" else f"from_{key}"): value
                                   for key, value in source.items()})
    _check_bounds(geometry.output, geometry.options("to"), made_bounds, "map")
    _check_bounds(geometry.input, geometry.options("from"), source_bounds, "source")
    return geometry


def as_input(made: Geometry) -> dict:
    """The input-side fields (``from_``, ``from_center`` ...) that read an image ``made`` made
    back: its output side, moved over, with a Mercator top written out."""
    side = document(made)["map"]
    fields = {"from_": side["projection"], "from_center": tuple(side["center"]), "from_heading": side["heading"]}
    fields.update({option_name(option, "from"): value for option, value in side["options"].items()})
    return fields


def input_geometry(geometry: Geometry, made: Geometry | None, overrides: dict | None) -> Geometry:
    """The geometry an image is read with: ``overrides`` None leaves ``geometry`` as it is (--from
    or --legacy given: the file's embedded geometry is not used); else the input side is the
    image's embedded geometry ``made`` (``geometry``'s own without one), and the ``overrides``
    (the --from-center, --from-heading ... given) on top. A SpecError says which does not apply."""
    if overrides is None or (made is None and not overrides):
        return geometry
    if not set(overrides) <= INPUT_FIELDS - {"from_"}:
        raise SpecError(f"not an input option to read an image by: {sorted(set(overrides) - INPUT_FIELDS)}")
    fields = {field.name: getattr(geometry, field.name) for field in dataclasses.fields(geometry)}
    if made is not None:
        fields.update({name: None for name in _INPUT_OPTIONS})  # the file's projection takes its own
        fields.update(as_input(made))
    return Geometry(**{**fields, **overrides})


# --- the places in each format ----------------------------------------------------------------

_XMP = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:polewarp="{namespace}"><polewarp:geometry>{text}</polewarp:geometry>'
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def _xmp_packet(text: str) -> bytes:
    """A minimal XMP packet holding the document as one property."""
    return _XMP.format(namespace=XMP_NAMESPACE, text=escape(text)).encode()


def _from_xmp(packet) -> str | None:
    """Our property's text in an XMP packet (as an element or, rewritten by another program, as
    an attribute); None when it has none, a SpecError when a packet naming it cannot be read.
    No DTD is taken: entities cannot expand."""
    if not isinstance(packet, (bytes, str)):
        return None
    raw = packet.encode() if isinstance(packet, str) else packet
    if XMP_NAMESPACE.encode() not in raw:
        return None
    if len(raw) > MAX_XMP or b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise SpecError("its XMP is over 1 MiB or declares a DTD")
    try:
        root = ElementTree.fromstring(raw.strip(b"\x00"))
    except (ElementTree.ParseError, LookupError, ValueError) as err:  # LookupError: an unknown encoding
        raise SpecError(f"damaged XMP ({str(err)[:80]})") from None
    name = f"{{{XMP_NAMESPACE}}}geometry"
    for element in root.iter():
        if element.tag == name:
            return element.text or ""
        if name in element.attrib:
            return element.attrib[name]
    return None


def save_arguments(fmt: str, geometry: Geometry, path) -> dict:
    """Pillow save() keywords that embed ``geometry`` in a ``fmt`` file ({} where the format has
    no place for it: said at -v)."""
    if fmt not in FORMATS:
        log.debug("%s: %s files have no place for the geometry: read it back with --from* options", path, fmt)
        return {}
    text = encode(geometry)
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_itxt(KEY, text)
        return {"pnginfo": info}
    if fmt == "TIFF":
        return {"description": text}
    return {"xmp": _xmp_packet(text)}


def _stored_text(image) -> tuple[str | None, bool]:
    """The text of the image's place (from its header: nothing is decoded), and whether the place
    is ours alone (a PNG keyword, an XMP property) rather than shared with other programs' text."""
    if image.format == "PNG":
        text = image.info.get(KEY)
        return (str(text) if text is not None else None), True
    if image.format == "TIFF":
        text = getattr(image, "tag_v2", {}).get(270)
        return (text if isinstance(text, str) else None), False
    if image.format in ("JPEG", "WEBP", "MPO"):
        return _from_xmp(image.info.get("xmp")), True
    return None, False


def read_embedded(image, path, warn: bool = True) -> Geometry | None:
    """The geometry an open Pillow image carries, or None: none, or (with a warning when ``warn``)
    damaged, of another version or with values no geometry takes."""
    try:
        text, ours = _stored_text(image)
        if text is None or not (ours or text.startswith(_MARK)):
            return None
        return decode(text)
    except SpecError as err:
        if warn:
            log.warning("%s: its embedded geometry is unusable (%s): read as a plain map", path, err)
        return None
