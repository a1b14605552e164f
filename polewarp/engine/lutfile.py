"""Export and import a LUT as a standard .npy array with a .json sidecar describing it.

The sidecar holds the sha256 of the array's data, so that the two files are one unit: an
export interrupted between them (a signal, a full disk) leaves a pair that is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from .atomic import atomic_output
from .cache import MAX_HEADER_BYTES, brief_json, canonical_json, open_regular, parse_json, spec_from
from .errors import CacheError, SpecError
from .gather import check_graticule, check_lut
from .geometry import ALIASES, GeometrySpec
from .lut import Lut, graticule_layout, lut_layout

SIDECAR_VERSION = 3  # 1 had no checksum of the array; 2 knew two projections and no input aspect
NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def sidecar_path(path) -> Path:
    """FILE.npy -> FILE.json."""
    return Path(path).with_suffix(".json")


def graticule_path(path) -> Path:
    """FILE.npy -> FILE.graticule.npy, the graticule mask of a LUT that draws one."""
    return Path(path).with_suffix(".graticule.npy")


def _digest(array: np.ndarray) -> str:
    """sha256 of a C-contiguous array's bytes: of the .npy's data, header aside."""
    return hashlib.sha256(memoryview(array).cast("B")).hexdigest()


def _describe(spec: GeometrySpec, dtype: np.dtype, digest: str, mask_digest: str | None = None) -> dict:
    """The sidecar of the LUT of ``spec`` whose data hashes to ``digest`` (and whose graticule
    mask, when the spec draws one, to ``mask_digest``: the mask's checksum is then written too)."""
    fields = {
        "format_version": SIDECAR_VERSION,
        "input_size": list(spec.input_size),
        "output_size": list(spec.output_size),
        "geometry": spec.to_dict(),
        "dtype": dtype.name,
        "missing": int(np.iinfo(dtype).max),
        "channels": ["source_row", "source_column"],
        "resample": spec.resample,
        "fraction_bits": 8 if spec.resample == "bilinear" else 0,
        "sha256": digest,
        "projections": {"to": spec.output.describe(spec.options("to")),
                        "from": spec.input.describe(spec.options("from"))},
    }
    if graticule_layout(spec) is not None:
        fields["graticule_sha256"] = mask_digest
    return fields


def _upgraded(fields: dict) -> tuple[dict, tuple[str, ...]]:
    """A version 2 sidecar as version 3 says it, and the fields version 2 did not have: its
    geometry's older names renamed, the input aspect and options it could not have written in."""
    geometry = fields.get("geometry")
    if not isinstance(geometry, dict):
        return fields, ()
    geometry = {ALIASES.get(key, key).rstrip("_"): value for key, value in geometry.items()}
    geometry = {"from_center": [0.0, 0.0], "from_heading": 0.0, "lat_ts": None, "radius": None,
                "from_lat_ts": None, "from_radius": None, **geometry}
    return {**fields, "format_version": SIDECAR_VERSION, "geometry": geometry}, ("projections",)


def save_lut(lut: Lut, path) -> Path:
    """Write FILE.npy (H_out, W_out, 2) of (row, column), FILE.graticule.npy (its graticule mask,
    when it draws one) and FILE.json, each atomically; the sidecar last, as it vouches for both."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise SpecError(f"{path}: a LUT is written as .npy (with a .json sidecar)")
    array = np.ascontiguousarray(lut.array)
    mask = None if lut.graticule is None else np.ascontiguousarray(lut.graticule)
    sidecar = _describe(lut.spec, array.dtype, _digest(array), None if mask is None else _digest(mask))
    with atomic_output(path) as stream:
        np.save(stream, array)
    if mask is not None:
        with atomic_output(graticule_path(path)) as stream:
            np.save(stream, mask)
    with atomic_output(sidecar_path(path)) as stream:
        stream.write(json.dumps(sidecar, indent=2).encode() + b"\n")
    return path


def _read_sidecar(path: Path) -> tuple[GeometrySpec, str, str | None]:
    """The spec, array digest and mask digest (None without a graticule) in FILE.npy's sidecar,
    which must be exactly what save_lut writes."""
    sidecar = sidecar_path(path)
    try:
        with open_regular(sidecar) as stream:
            raw = stream.read(MAX_HEADER_BYTES + 1)
    except FileNotFoundError:
        raise CacheError(f"{path}: its sidecar {sidecar.name} is missing") from None
    except OSError as err:
        raise CacheError(f"{sidecar}: cannot read the sidecar ({err.strerror or err})") from None
    except CacheError as err:
        raise CacheError(f"{sidecar}: {err}") from None
    try:
        fields = parse_json(raw, "the sidecar")
        version = fields.get("format_version") if isinstance(fields, dict) else None
        if version == 1:
            raise CacheError("written by an older polewarp, without the array's checksum: "
                             "export the LUT again with 'polewarp lut build'")
        fields, added = _upgraded(fields) if version == 2 else (fields, ())
        if version not in (2, SIDECAR_VERSION):
            raise CacheError(f"not a polewarp LUT sidecar (format version {brief_json(version, 20)}, "
                             f"expected {SIDECAR_VERSION})")
        spec = spec_from(fields.get("geometry"), "its geometry")
        digest, mask_digest = fields.get("sha256"), fields.get("graticule_sha256")
        for name, value in (("sha256", digest), ("graticule_sha256", mask_digest)):
            if (name == "sha256" or value is not None) and not (isinstance(value, str)
                                                                and re.fullmatch("[0-9a-f]{64}", value)):
                raise CacheError(f"its {name} is not a sha256")
        expected = _describe(spec, lut_layout(spec)[1], digest, mask_digest)
        wrong = sorted(name for name in fields.keys() | expected.keys()
                       if name not in added and canonical_json(fields.get(name)) != canonical_json(expected.get(name)))
        if wrong:
            raise CacheError(f"its {', '.join(wrong)} do not match its geometry")
    except CacheError as err:
        raise CacheError(f"{sidecar}: {err}") from None
    return spec, digest, mask_digest


def _map_npy(stream, layout: tuple) -> np.ndarray:
    """The .npy array in ``stream``, memory-mapped read-only, if it has ``layout`` (shape, dtype)."""
    file_bytes = os.fstat(stream.fileno()).st_size
    if file_bytes == 0:
        raise CacheError("the file is empty")
    version = np.lib.format.read_magic(stream)
    if version not in NPY_HEADERS:
        raise CacheError(f".npy format version {version[0]}.{version[1]}")
    shape, fortran_order, dtype = NPY_HEADERS[version](stream)
    expected_shape, expected_dtype = layout
    if shape != expected_shape or dtype != expected_dtype or fortran_order:
        raise CacheError(f"array {shape} {dtype} does not match its sidecar ({expected_shape} {expected_dtype})")
    offset = stream.tell()
    if file_bytes != offset + dtype.itemsize * int(np.prod(shape)):
        raise CacheError(f"{file_bytes} bytes, not the {offset + dtype.itemsize * int(np.prod(shape))} "
                         "of its shape (truncated?)")
    return np.memmap(stream, dtype=dtype, mode="r", offset=offset, shape=shape)


def _read_array(path: Path, layout: tuple) -> np.ndarray:
    """FILE.npy, memory-mapped read-only; a file of another ``layout`` (shape, dtype) is a CacheError."""
    try:
        with open_regular(path) as stream:
            return _map_npy(stream, layout)
    except OSError as err:
        raise CacheError(f"{path}: cannot read the LUT ({err.strerror or err})") from None
    except (CacheError, ValueError) as err:  # ValueError: numpy's refusal of a bad .npy header
        raise CacheError(f"{path}: {err}") from None


def load_lut(path, input_size: tuple[int, int] | None = None, check: bool = True) -> Lut:
    """Read FILE.npy and its sidecar, refusing a missing, damaged or mismatched pair, another input
    size or (``check``) values pointing outside the input; without ``check`` that is left to the gather."""
    path = Path(path)
    spec, digest, mask_digest = _read_sidecar(path)
    if input_size is not None and tuple(input_size) != spec.input_size:
        raise SpecError(f"{path} was built for a {spec.input_size[0]}x{spec.input_size[1]} input, "
                        f"not {input_size[0]}x{input_size[1]}")
    array = _read_array(path, lut_layout(spec))
    if _digest(array) != digest:
        raise CacheError(f"{path} and its sidecar {sidecar_path(path).name} are not one pair (the array's "
                         "checksum differs: an export was interrupted?); export the LUT again")
    mask = None
    if mask_digest is not None:
        mask_path = graticule_path(path)
        mask = _read_array(mask_path, graticule_layout(spec))
        if _digest(mask) != mask_digest:
            raise CacheError(f"{mask_path} is not the graticule mask of {path} (its checksum differs); "
                             "export the LUT again")
    try:
        check_graticule(mask, spec)
        if check:
            check_lut(array, spec.input_shape, spec.resample)
    except CacheError as err:
        raise CacheError(f"{path}: {err}") from None
    return Lut(array, spec, f"file ({path})", checked=check, graticule=mask)
