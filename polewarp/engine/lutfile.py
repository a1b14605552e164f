"""Export and import a LUT as a standard .npy array with a .json sidecar describing it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .atomic import atomic_output
from .cache import FORMAT_VERSION
from .errors import CacheError, SpecError
from .gather import check_lut
from .geometry import GeometrySpec
from .lut import Lut, lut_layout


def sidecar_path(path) -> Path:
    """FILE.npy -> FILE.json."""
    return Path(path).with_suffix(".json")


def save_lut(lut: Lut, path) -> Path:
    """Write FILE.npy (H_out, W_out, 2) of (row, column) and FILE.json, each atomically."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise SpecError(f"{path}: a LUT is written as .npy (with a .json sidecar)")
    sidecar = {
        "format_version": FORMAT_VERSION,
        "input_size": list(lut.spec.input_size),
        "output_size": list(lut.spec.output_size),
        "geometry": lut.spec.to_dict(),
        "dtype": lut.array.dtype.name,
        "missing": lut.missing,
        "channels": ["source_row", "source_column"],
        "resample": lut.spec.resample,
        "fraction_bits": 8 if lut.spec.resample == "bilinear" else 0,
    }
    with atomic_output(path) as stream:
        np.save(stream, np.ascontiguousarray(lut.array))
    with atomic_output(sidecar_path(path)) as stream:
        stream.write(json.dumps(sidecar, indent=2).encode() + b"\n")
    return path


def load_lut(path, input_size: tuple[int, int] | None = None, check: bool = True) -> Lut:
    """Read FILE.npy and its sidecar, refusing a missing or mismatched pair, another input size
    or (``check``) values pointing outside the input; without ``check`` that is left to the gather."""
    path = Path(path)
    try:
        sidecar = json.loads(sidecar_path(path).read_text())
        spec = GeometrySpec.from_dict(sidecar["geometry"])
    except FileNotFoundError:
        raise CacheError(f"{path}: its sidecar {sidecar_path(path).name} is missing") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CacheError(f"{sidecar_path(path)}: not a polewarp LUT sidecar ({err})") from None
    if sidecar.get("format_version") != FORMAT_VERSION:
        raise CacheError(f"{sidecar_path(path)}: format version {sidecar.get('format_version')}, "
                         f"expected {FORMAT_VERSION}")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise CacheError(f"{path}: cannot read the LUT ({err})") from None
    shape, dtype = lut_layout(spec)
    if array.shape != shape or array.dtype != dtype:
        raise CacheError(f"{path}: array {array.shape} {array.dtype} does not match its sidecar "
                         f"({shape} {dtype})")
    if input_size is not None and tuple(input_size) != spec.input_size:
        raise SpecError(f"{path} was built for a {spec.input_size[0]}x{spec.input_size[1]} input, "
                        f"not {input_size[0]}x{input_size[1]}")
    if check:
        try:
            check_lut(array, spec.input_shape, spec.resample)
        except CacheError as err:
            raise CacheError(f"{path}: {err}") from None
    return Lut(array, spec, f"file ({path})", checked=check)
