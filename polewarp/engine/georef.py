"""GIS georeferencing of an output map: its CRS on a sphere and its pixel-to-map transform.

GDAL and QGIS place a map on the globe from a CRS and an affine pixel-to-map transform. Each
output geometry gets the most portable exact CRS there is (``Georef.form``):

- ``hotine``: a Mercator output in any aspect but the normal one is the spherical Hotine Oblique
  Mercator, variant B (EPSG method 9815, GeoTIFF's CT 9815), centred on the output's centre with
  its central line along the output's rotated equator (a centre at a pole moves the origin 90
  degrees along that line, where PROJ's omerc is defined, and a false easting puts it back);
- ``geotiff``: a projection with a GeoTIFF code in its normal aspect (centre on the equator,
  north or south up: the latter a rotation of the plane), and the azimuthal ones at any centre,
  whose heading is a rotation of the plane (then ModelTransformation);
- ``pam``: everything else, as PROJ's ``ob_tran`` (or the plain projection in its normal aspect)
  in WKT2, for GDAL's PAM sidecar ``FILE.aux.xml``.

For inputs it reads the other way: a regional equirectangular map's extent from its GeoTIFF
tags or world file (``input_extent``). Pure Python; pyproj (the ``gis`` extra) only where WKT is
made.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from xml.sax.saxutils import escape

from .atomic import atomic_output
from .errors import FormatError, PolewarpError
from .geometry import Geometry, _sincos_deg, aspect_frame
from .imageio import EncoderOptions, Picture, output_format, write_image

EARTH_RADIUS = 6371007.181  # the authalic radius of WGS84, metres
GIS_HINT = "pip install 'polewarp[gis]' (pyproj)"

# The formats with a place for georeferencing, and the world file's extension of each.
WORLD_FILES = {"PNG": ".pgw", "JPEG": ".jgw"}
GEOREF_FORMATS = ("TIFF", *WORLD_FILES)

# GeoTIFF's coordinate transformation codes (ProjCoordTransGeoKey) of the normal aspects, with
# the keys each takes as GDAL writes them: "lon" the central meridian, "lat" the centre latitude.
_CODES = {
    "mercator": (7, {3080: "lon", 3081: "zero", 3092: "one"}),
    "equirectangular": (17, {3078: "zero", 3088: "lon", 3089: "zero"}),
    "cylindrical-equal-area": (28, {3078: "lat_ts", 3080: "lon"}),
    "miller": (20, {3088: "lon", 3089: "zero"}),
    "sinusoidal": (24, {3088: "lon"}),
    "robinson": (23, {3088: "lon"}),
    "orthographic": (21, {3088: "lon", 3089: "lat"}),
    "stereographic": (14, {3088: "lon", 3089: "lat", 3092: "one"}),
    "gnomonic": (19, {3088: "lon", 3089: "lat"}),
    "azimuthal-equidistant": (12, {3088: "lon", 3089: "lat"}),
    "lambert-azimuthal-equal-area": (10, {3088: "lon", 3089: "lat"}),
}
HOTINE_B = 9815
USER_DEFINED = 32767
# GeoKey numbers (GeoTIFF 1.1) written for every projected CRS: model type, raster type, the sphere.
_MODEL_TYPE, _RASTER_TYPE, _PROJECTED, _GEOGRAPHIC, _PIXEL_IS_AREA, _PIXEL_IS_POINT = 1024, 1025, 1, 2, 1, 2
_FALSE_EASTING, _FALSE_NORTHING = 3082, 3083


@dataclasses.dataclass(frozen=True)
class Georef:
    """An output's place on the globe.

    ``form``: ``hotine``, ``geotiff`` or ``pam`` (see the module). ``proj``: the CRS as a PROJ
    string in metres. ``transform``: GDAL's geotransform (x0, dx/dcol, dx/drow, y0, dy/dcol,
    dy/drow) of pixel corners. ``code`` and ``keys``: GeoTIFF's ProjCoordTrans and its
    parameter keys (None for ``pam``). ``radius``: the sphere's, metres.
    """

    form: str
    proj: str
    transform: tuple[float, float, float, float, float, float]
    radius: float
    code: int | None = None
    keys: tuple[tuple[int, float], ...] = ()

    @property
    def rotated(self) -> bool:
        """The map's axes are not the CRS's: GeoTIFF needs ModelTransformation."""
        return self.transform[2] != 0.0 or self.transform[4] != 0.0 or self.transform[1] < 0.0

    def geotiff_tags(self) -> dict[int, tuple[int, tuple]]:
        """The GeoTIFF tags as {tag: (TIFF type, values)}: GeoKeyDirectory and GeoDoubleParams
        (the CRS; for ``pam`` the sphere alone, its projection is in the sidecar), and
        ModelPixelScale + ModelTiepoint or, where the plane is rotated, ModelTransformation."""
        x0, a, b, y0, d, e = self.transform
        if self.rotated:
            placement = {34264: (12, (a, b, 0.0, x0, d, e, 0.0, y0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0))}
        else:
            placement = {33550: (12, (a, -e, 0.0)), 33922: (12, (0.0, 0.0, 0.0, x0, y0, 0.0))}
        keys = [(_RASTER_TYPE, _PIXEL_IS_AREA)]
        doubles = [self.radius, self.radius]
        # the sphere: a user-defined datum and ellipsoid whose semi-axes are the radius, in degrees
        keys += [(2048, USER_DEFINED), (2050, USER_DEFINED), (2054, 9102), (2056, USER_DEFINED),
                 (2057, ("double", 0)), (2058, ("double", 1))]
        if self.code is None:
            keys.append((_MODEL_TYPE, USER_DEFINED))  # as GDAL writes a CRS GeoKeys cannot hold
        else:
            keys += [(_MODEL_TYPE, _PROJECTED), (3072, USER_DEFINED), (3074, USER_DEFINED),
                     (3075, self.code), (3076, 9001)]
            for key, value in self.keys:
                keys.append((key, ("double", len(doubles))))
                doubles.append(value)
        directory = [1, 1, 0, len(keys)]
        for key, value in sorted(keys):
            directory += [key, 34736, 1, value[1]] if isinstance(value, tuple) else [key, 0, 1, value]
        return {**placement, 34735: (3, tuple(directory)), 34736: (12, tuple(doubles))}

    def world_file(self) -> str:
        """The six lines of a world file: the centre of the upper-left pixel, not its corner."""
        x0, a, b, y0, d, e = self.transform
        centre = (x0 + (a + b) / 2.0, y0 + (d + e) / 2.0)
        return "".join(f"{value!r}\n" for value in (a, d, b, e, *centre))

    def wkt(self, version: str = "WKT2_2019") -> str:
        """The CRS as WKT (pyproj, the ``gis`` extra)."""
        try:
            from pyproj import CRS
        except ImportError:
            raise PolewarpError(f"this map's CRS ({self.proj.split()[0]}) is written as WKT: {GIS_HINT}") from None
        return CRS.from_proj4(self.proj).to_wkt(version)

    def prj(self) -> str:
        """A ``.prj``: ESRI's WKT1 where it can say the CRS, else GDAL's WKT1 (with the PROJ string)."""
        from pyproj import CRS

        crs = CRS.from_proj4(self.proj)
        return crs.to_wkt("WKT1_ESRI") or crs.to_wkt("WKT1_GDAL")

    def aux_xml(self) -> str:
        """GDAL's PAM sidecar: the CRS as WKT2 and the geotransform."""
        transform = ", ".join(f"{value!r}" for value in self.transform)
        return (f'<PAMDataset>\n  <SRS dataAxisToSRSAxisMapping="1,2">{escape(self.wkt())}</SRS>\n'
                f"  <GeoTransform>{transform}</GeoTransform>\n</PAMDataset>\n")

    def sidecars(self, path, fmt: str) -> dict[Path, str]:
        """The files beside ``path`` that carry this georeferencing in ``fmt``, with their text."""
        path = Path(path)
        if fmt == "TIFF":
            return {} if self.code is not None else {aux_path(path): self.aux_xml()}
        return {aux_path(path): self.aux_xml(), path.with_suffix(WORLD_FILES[fmt]): self.world_file(),
                path.with_suffix(".prj"): self.prj()}


def aux_path(path: Path) -> Path:
    """GDAL's PAM sidecar of ``path``: FILE.EXT.aux.xml."""
    return path.with_name(path.name + ".aux.xml")


def every_sidecar(path) -> list[Path]:
    """Every name a sidecar of ``path`` may have, whatever the format (to find stray temporaries)."""
    path = Path(path)
    return [aux_path(path), path.with_suffix(".prj"), *(path.with_suffix(ext) for ext in WORLD_FILES.values())]


def wanted(encoder: EncoderOptions, path) -> bool:
    """Whether ``path`` gets georeferencing: --georef, else TIFF alone; --georef for a format with
    no place for it is refused."""
    fmt = output_format(path)
    if encoder.georef is None:
        return fmt == "TIFF"
    if encoder.georef and fmt not in GEOREF_FORMATS:
        raise FormatError(f"{Path(path).name}: {fmt} has no place for georeferencing; "
                          "write tif, png or jpg, or give --no-georef", param="georef")
    return encoder.georef


def sidecar_paths(path, encoder: EncoderOptions, geometry: Geometry) -> list[Path]:
    """The sidecars ``path`` gets (for the batch plan's checks), known without making any WKT."""
    path = Path(path)
    if not wanted(encoder, path):
        return []
    fmt = output_format(path)
    if fmt == "TIFF":
        return [] if _standard_form(geometry) else [aux_path(path)]
    return [aux_path(path), path.with_suffix(WORLD_FILES[fmt]), path.with_suffix(".prj")]


def write_map(path, picture: Picture, encoder: EncoderOptions, spec, write=None) -> int:
    """``imageio.write_image`` with the georeferencing of ``spec``'s output where it is wanted:
    the sidecars first, then the image, each atomically, so that a crash can leave fresh sidecars
    without their image but never an image beside stale ones. Returns the image's bytes.
    ``write(path, picture, encoder, tiff_tags)``: the image's writer (the banded one streams;
    by default ``write_image``)."""
    path = Path(path)
    write = write or write_image
    if not wanted(encoder, path):
        return write(path, picture, encoder, None)
    fmt = output_format(path)
    ref = georef_for(spec.geometry, spec.output_size, encoder.earth_radius or EARTH_RADIUS)
    files = ref.sidecars(path, fmt)  # the WKT is made before anything is written
    for sidecar, text in files.items():
        with atomic_output(sidecar) as stream:
            stream.write(text.encode())
    if fmt == "TIFF" and not files:
        aux_path(path).unlink(missing_ok=True)  # GDAL would take an older PAM CRS over the GeoKeys
    return write(path, picture, encoder, ref.geotiff_tags() if fmt == "TIFF" else None)


def _normal(geometry: Geometry) -> bool:
    """Centre on the equator and north or south up: the projection's own aspect, maybe turned over."""
    return geometry.center[0] == 0.0 and geometry.heading in (0.0, 180.0)


def _standard_form(geometry: Geometry) -> bool:
    """The output's CRS fits in GeoKeys (a code or Hotine), so a GeoTIFF needs no sidecar."""
    to = geometry.to
    return to == "mercator" or (to in _CODES and (geometry.output.azimuthal or _normal(geometry)))


def _plane(geometry: Geometry, size, radius: float, turn: float = 0.0, shift=(0.0, 0.0)):
    """The geotransform of the output's plane (metres on the sphere), turned by ``turn`` degrees
    (the heading of an azimuthal map, whose CRS has north up) and moved by ``shift``."""
    x_edge, y_edge = (radius * v for v in geometry.output.bounds(geometry.options("to")))
    width, height = size
    dx, dy = 2.0 * x_edge / width, -2.0 * y_edge / height
    sin_t, cos_t = _sincos_deg(turn)
    # CRS (x, y) = R(turn) (x', y'): x = x' cos t + y' sin t, y = -x' sin t + y' cos t
    x0 = cos_t * -x_edge + sin_t * y_edge + shift[0]
    y0 = -sin_t * -x_edge + cos_t * y_edge + shift[1]
    return tuple(v + 0.0 for v in (x0, cos_t * dx, sin_t * dy, y0, -sin_t * dx, cos_t * dy))


def _lat_lon(vector) -> tuple[float, float]:
    x, y, z = vector
    return math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x))


def _azimuth(point, direction) -> float:
    """The compass bearing, degrees, of ``direction`` (a tangent vector) at ``point``."""
    _, east, north = aspect_frame(_lat_lon(point), 0.0)
    return math.degrees(math.atan2(_dot(direction, east), _dot(direction, north)))


def _dot(a, b) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _hotine(geometry: Geometry, size, radius: float) -> Georef:
    """Mercator in an oblique or transverse aspect as EPSG 9815 (spherical, k0 = 1): the origin
    at the centre (or, for a centre within 10 degrees of a pole, 90 degrees along the central
    line, where the line's latitude is at most 10 degrees), the azimuth that of the rotated
    equator there folded into [-90, 90] as PROJ takes it, and the rectified grid angle +-90 so
    that the CRS's x runs along the output's columns (checked against PROJ in the tests)."""
    centre, east, _ = geometry.frames()[0]
    if abs(geometry.center[0]) <= 80.0:
        origin, along, false_easting = centre, east, 0.0
    else:
        origin, along, false_easting = east, tuple(-v for v in centre), radius * math.pi / 2.0
    lat, lon = _lat_lon(origin)
    alpha, gamma = _azimuth(origin, along), 90.0
    if not -90.0 <= alpha <= 90.0:
        alpha, gamma = alpha - math.copysign(180.0, alpha), -90.0
    lat, lon, alpha = (round(v, 12) + 0.0 for v in (lat, lon, alpha))
    proj = (f"+proj=omerc +lat_0={lat!r} +lonc={lon!r} +alpha={alpha!r} +gamma={gamma!r} +k_0=1 "
            f"+x_0={false_easting!r} +y_0=0 +R={radius!r} +units=m +no_defs")
    keys = ((3088, lon), (3089, lat), (3093, 1.0), (3094, alpha), (3096, gamma),
            (_FALSE_EASTING, false_easting), (_FALSE_NORTHING, 0.0))
    return Georef("hotine", proj, _plane(geometry, size, radius), radius, HOTINE_B, keys)


def _coded(geometry: Geometry, size, radius: float) -> Georef:
    """A projection with a GeoTIFF code, centred on the output's centre, the heading a turn."""
    code, wanted = _CODES[geometry.to]
    lat, lon = geometry.center
    values = {"lon": lon, "lat": lat, "zero": 0.0, "one": 1.0, "lat_ts": geometry.lat_ts or 0.0}
    keys = tuple((key, values[name]) for key, name in wanted.items())
    keys += ((_FALSE_EASTING, 0.0), (_FALSE_NORTHING, 0.0))
    entry = geometry.output
    own = entry.proj(geometry.options("to")).replace("+R=1", "").replace("+lat_0=0 +lon_0=0", "")
    proj = f"{own.strip()} +lat_0={lat!r} +lon_0={lon!r}" if entry.azimuthal else f"{own.strip()} +lon_0={lon!r}"
    proj += f" +x_0=0 +y_0=0 +R={radius!r} +units=m +no_defs"
    return Georef("geotiff", proj, _plane(geometry, size, radius, geometry.heading), radius, code, keys)


def _pam(geometry: Geometry, size, radius: float) -> Georef:
    """A projection without a GeoTIFF code, or one in a rotated aspect: the plain projection in
    its normal aspect, else PROJ's ob_tran about the output's rotated pole."""
    entry = geometry.output
    own = entry.proj(geometry.options("to")).replace(" +R=1", "")
    tail = f" +x_0=0 +y_0=0 +R={radius!r} +units=m +no_defs"
    if _normal(geometry):
        proj = f"{own} +lon_0={geometry.center[1]!r}" + tail
        return Georef("pam", proj, _plane(geometry, size, radius, geometry.heading), radius)
    centre, _, pole = geometry.frames()[0]
    pole_lat, pole_lon = _lat_lon(pole)
    # ob_tran turns the globe so that the new pole is at (o_lat_p, o_lon_p) of the rotated frame
    # and lon_0 names the meridian the old pole is on; o_lon_p puts the centre at x = 0.
    pole_lat, lon_0 = (round(v, 12) + 0.0 for v in (pole_lat, pole_lon + 180.0))
    proj = (f"+proj=ob_tran +o_proj={own.removeprefix('+proj=')} +o_lat_p={pole_lat!r} "
            f"+o_lon_p={_ob_tran_lon(centre, pole_lat, lon_0)!r} +lon_0={lon_0!r}" + tail)
    return Georef("pam", proj, _plane(geometry, size, radius), radius)


def _ob_tran_lon(centre, pole_lat: float, lon_0: float) -> float:
    """The o_lon_p that puts the centre at rotated longitude 0: minus the centre's rotated
    longitude with o_lon_p = 0 (Snyder's formula 5-8b, as PROJ's ob_tran forward computes it)."""
    lat, lon = (math.radians(v) for v in _lat_lon(centre))
    dlon, pole = lon - math.radians(lon_0), math.radians(pole_lat)
    lam = math.atan2(math.cos(lat) * math.sin(dlon),
                     math.sin(pole) * math.cos(lat) * math.cos(dlon) + math.cos(pole) * math.sin(lat))
    return round(-math.degrees(lam), 12) + 0.0


def georef_for(geometry: Geometry, size, radius: float = EARTH_RADIUS) -> Georef:
    """The georeferencing of an output of ``size`` (W, H) with ``geometry``, on a sphere of
    ``radius`` metres."""
    if geometry.to == "mercator" and not _normal(geometry):
        return _hotine(geometry, size, radius)
    if geometry.to in _CODES and (geometry.output.azimuthal or _normal(geometry)):
        return _coded(geometry, size, radius)
    return _pam(geometry, size, radius)


# --- reading an input's extent ------------------------------------------------------------------

# world files beside an image: the three-letter form and the extension with a w appended
_WORLD_SUFFIXES = {".tif": (".tfw", ".tifw"), ".tiff": (".tfw", ".tiffw"), ".png": (".pgw", ".pngw"),
                   ".jpg": (".jgw", ".jpgw"), ".jpeg": (".jgw", ".jpegw")}
_MODEL_NAMES = {_PROJECTED: "a projected CRS", 3: "a geocentric CRS", USER_DEFINED: "a user-defined CRS"}


def with_input_extent(geometry: Geometry, path, size) -> Geometry:
    """``geometry`` with an equirectangular input's extent read from the file's georeferencing,
    unless the geometry gives bounds of its own (--from-bounds wins)."""
    if geometry.from_ != "equirectangular" or geometry.from_bounds is not None:
        return geometry
    extent = input_extent(path, size)
    return geometry if extent is None else dataclasses.replace(geometry, from_bounds=extent)


@dataclasses.dataclass(frozen=True)
class _FileGeoref:
    """What an input file says of its own place: the geotransform of pixel corners, GeoTIFF's
    model type and projection code (None from a world file), and where it was read."""

    transform: tuple[float, float, float, float, float, float]
    model: int | None
    code: int | None
    source: str


def input_extent(path, size) -> tuple[float, float, float, float] | None:
    """The extent (west, south, east, north), degrees, of an equirectangular input of ``size``
    from its GIS georeferencing: a GeoTIFF's tags, else a world file beside it; None when it
    has neither. A CRS that is not geographic is refused, named."""
    path = Path(path)
    found = _file_georef(path, refuse=True)
    if found is None:
        return None
    x0, a, b, y0, d, e = found.transform
    if b or d:
        raise FormatError(f"{found.source}: a rotated grid; polewarp reads north-up maps")
    west, south, east, north = x0, y0 + size[1] * e, x0 + size[0] * a, y0
    if found.model is None and not all(math.isfinite(v) and abs(v) <= 360.0 for v in (west, south, east, north)):
        raise FormatError(f"{found.source}: its extent {(west, south, east, north)} is not in degrees of longitude "
                          "and latitude (a projected map? give --from and its options)")
    # 0..360 maps and rounding past 180 are the same longitudes
    west, east = (v - 360.0 if v > 180.0 else v for v in (west, east))
    return west, south, east, north


def embedded_disagreement(made: Geometry, path, size) -> str | None:
    """How the file's GIS georeferencing differs from what polewarp writes for an image ``made``
    with its embedded geometry (None: it has none, or they agree up to the sphere's radius)."""
    found = _file_georef(Path(path), refuse=False)
    if found is None:
        return None
    expected = georef_for(made, size)
    if found.code is not None and found.code != expected.code:
        return f"{found.source}: GeoTIFF projection code {found.code}, the geometry's {expected.code}"
    # the radius is the file's own: the transforms agree if one is the other scaled, to 1e-6 pixel
    linear = (1, 2, 4, 5)
    scale = (sum(found.transform[i] * expected.transform[i] for i in linear)
             / sum(expected.transform[i] ** 2 for i in linear))
    pixel = scale * math.hypot(*(expected.transform[i] for i in linear))
    if scale <= 0.0 or any(abs(v - scale * w) > 1e-6 * pixel
                           for v, w in zip(found.transform, expected.transform, strict=True)):
        return (f"{found.source} places the pixels at {_words(found.transform)}, the geometry at "
                f"{_words(expected.transform)} (metres on a sphere of {EARTH_RADIUS:g} m)")
    return None


def _words(transform) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in transform) + ")"


def _file_georef(path: Path, refuse: bool) -> _FileGeoref | None:
    """The file's GeoTIFF georeferencing, else its world file's, else None; ``refuse``: a GeoTIFF
    CRS that is not geographic is a FormatError naming it."""
    return _geotiff_georef(path, refuse) or _world_file_georef(path)


def _geotiff_georef(path: Path, refuse: bool) -> _FileGeoref | None:
    from PIL import Image

    from .imageio import CODEC_ERRORS, own_bomb_check

    try:
        with own_bomb_check(), Image.open(path) as image:  # a header is no bomb; --max-pixels is the reader's
            tags = dict(image.tag_v2) if image.format == "TIFF" else {}
    except (Image.UnidentifiedImageError, *CODEC_ERRORS):
        return None
    directory = tags.get(34735)
    if directory is None:
        return None
    keys = {directory[i]: directory[i + 1:i + 4] for i in range(4, 4 + 4 * directory[3], 4)}
    doubles, text = tags.get(34736, ()), tags.get(34737, "")

    def value(key):
        location, count, offset = keys.get(key, (None, 0, 0))
        if location == 0:
            return offset
        if location == 34736:
            return doubles[offset]
        if location == 34737:
            return text[offset:offset + count].rstrip("|")
        return None

    model = value(_MODEL_TYPE)
    if refuse and model != _GEOGRAPHIC:
        code = value(3072)
        name = f"EPSG:{code}" if code not in (None, USER_DEFINED) else (value(1026) or value(3073) or "")
        what = _MODEL_NAMES.get(model, "no geographic CRS")
        raise FormatError(f"{path.name}: its GeoTIFF CRS is {what}{f' ({name})' if name else ''}, not "
                          "longitude/latitude: polewarp reads a regional map in degrees; give --from and its "
                          "options for a projected map")
    units = value(2054)
    if refuse and units not in (None, 9102):
        raise FormatError(f"{path.name}: its GeoTIFF angles are in unit {units}, not degrees")
    if 34264 in tags:
        m = tags[34264]
        transform = (m[3], m[0], m[1], m[7], m[4], m[5])
    elif 33550 in tags and 33922 in tags:
        step_x, step_y = tags[33550][:2]
        i, j, _, x, y, _ = tags[33922][:6]
        transform = (x - i * step_x, step_x, 0.0, y + j * step_y, 0.0, -step_y)
    else:
        return None
    if value(_RASTER_TYPE) == _PIXEL_IS_POINT:  # the tie point is a pixel's centre
        x0, a, b, y0, d, e = transform
        transform = (x0 - (a + b) / 2.0, a, b, y0 - (d + e) / 2.0, d, e)
    return _FileGeoref(tuple(float(v) for v in transform), model, value(3075), f"{path.name}'s GeoTIFF tags")


def _world_file_georef(path: Path) -> _FileGeoref | None:
    for suffix in (*_WORLD_SUFFIXES.get(path.suffix.lower(), ()), ".wld"):
        world = path.with_suffix(suffix)
        if world.is_file():
            break
    else:
        return None
    try:
        a, d, b, e, c, f = (float(line) for line in world.read_text().split())
    except (OSError, ValueError, UnicodeDecodeError):
        raise FormatError(f"{world.name}: not a world file (six numbers)") from None
    # the world file names the upper-left pixel's centre
    return _FileGeoref((c - (a + b) / 2.0, a, b, f - (d + e) / 2.0, d, e), None, None, world.name)
