"""On-disk LUT cache: key -> file, verified memory-mapped load, atomic store, LRU eviction.

An entry is one self-describing file: a fixed header (magic, format version, header length,
crc32), a JSON header (key, spec, shape, dtype), padding, then the raw array. The crc32 covers
every byte but its own, so a truncated, flipped or foreign file is caught on load and rebuilt.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import mmap
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np

from .atomic import atomic_output
from .errors import CacheError, SpecError
from .gather import check_lut
from .geometry import GeometrySpec
from .lut import Lut, lut_layout

log = logging.getLogger("polewarp")

FORMAT_VERSION = 1
MAGIC = b"PWLUT\r\n\x1a"
PREAMBLE = struct.Struct("<8sIII")  # magic, format version, JSON header length, crc32
CRC_OFFSET = 16
ALIGN = 64
SUFFIX = ".pwlut"
ENV_DIR = "POLEWARP_CACHE_DIR"
ENV_MAX = "POLEWARP_CACHE_MAX"


def cache_key(spec: GeometrySpec) -> str:
    """A hash of the spec's canonical form and the format version: equal specs, equal keys."""
    canonical = json.dumps({"format": FORMAT_VERSION, "spec": spec.to_dict()}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def default_cache_dir(cache_dir=None) -> Path:
    """--cache-dir, else $POLEWARP_CACHE_DIR, else $XDG_CACHE_HOME/polewarp, else ~/.cache/polewarp."""
    if cache_dir:
        return Path(cache_dir)
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "polewarp"


def parse_size(text) -> int | None:
    """'500M', '2G', '1048576' -> bytes; None or '' -> None."""
    if text is None or text == "":
        return None
    text = str(text).strip().upper().removesuffix("B")
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    factor = units.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in units else text
    try:
        value = int(float(number) * factor)
    except ValueError:
        raise SpecError(f"cache size {text!r}: use bytes or a number with K, M, G or T") from None
    if value <= 0:
        raise SpecError(f"cache size must be positive, not {text!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Entry:
    """One cache file as listed: its key, spec, size on disk and last use."""

    key: str
    path: Path
    spec: GeometrySpec | None
    bytes: int
    last_used: float


def _encode(key: str, lut: Lut) -> list[bytes]:
    """The entry's bytes, crc32 included, as a few parts (the array is not copied)."""
    array = np.ascontiguousarray(lut.array, dtype=lut.array.dtype.newbyteorder("<"))
    header = json.dumps(
        {"key": key, "spec": lut.spec.to_dict(), "shape": list(array.shape), "dtype": array.dtype.str}
    ).encode()
    header += b" " * (-(PREAMBLE.size + len(header)) % ALIGN)
    payload = memoryview(array).cast("B")
    crc = zlib.crc32(PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header), 0)[:CRC_OFFSET])
    crc = zlib.crc32(payload, zlib.crc32(header, crc))
    return [PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header), crc), header, payload]


def _decode(key: str, buffer) -> tuple[dict, np.ndarray]:
    """Verify an entry's bytes and return its header and a read-only array over them."""
    if len(buffer) < PREAMBLE.size:
        raise CacheError("truncated (shorter than its header)")
    magic, version, header_length, crc = PREAMBLE.unpack_from(buffer)
    if magic != MAGIC:
        raise CacheError("not a polewarp cache entry")
    if version != FORMAT_VERSION:
        raise CacheError(f"format version {version}, expected {FORMAT_VERSION}")
    view = memoryview(buffer)
    if zlib.crc32(view[PREAMBLE.size:], zlib.crc32(view[:CRC_OFFSET])) != crc:
        raise CacheError("checksum mismatch (truncated or corrupted)")
    header = json.loads(bytes(view[PREAMBLE.size:PREAMBLE.size + header_length]))
    if header.get("key") != key:
        raise CacheError("built for another geometry")
    shape = tuple(header["shape"])
    offset = PREAMBLE.size + header_length
    array = np.frombuffer(buffer, dtype=np.dtype(header["dtype"]), count=int(np.prod(shape)), offset=offset)
    return header, array.reshape(shape)


class LutCache:
    """A folder of LUT entries. Failures to write are warnings: the cache never fails a run."""

    def __init__(self, folder, max_bytes: int | None = None):
        self.folder = Path(folder)
        self.max_bytes = max_bytes

    def path_for(self, key: str) -> Path:
        """Where the entry for ``key`` lives."""
        return self.folder / f"{key}{SUFFIX}"

    def load(self, spec: GeometrySpec, check: bool = True) -> Lut | None:
        """The cached LUT for ``spec``, memory-mapped read-only, or None (a damaged entry is
        reported, removed and left to be rebuilt). ``check``: verify that it points only inside
        the input (a valid checksum does not prove that polewarp wrote it); without, the Lut is
        left for ``apply_lut`` to check as it gathers."""
        key = cache_key(spec)
        path = self.path_for(key)
        try:
            with open(path, "rb") as stream:
                buffer = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:  # ValueError: mmap of an empty file
            log.warning("cache entry %s unreadable (%s): rebuilding it", path, getattr(err, "strerror", None) or err)
            self._discard(path)
            return None
        try:
            header, array = _decode(key, buffer)
            shape, dtype = lut_layout(spec)
            if array.shape != shape or array.dtype != dtype:
                raise CacheError("shape or dtype does not match its geometry")
            if check:
                check_lut(array, spec.input_shape, spec.resample)
        except (CacheError, ValueError, KeyError, TypeError) as err:
            self.discard_damaged(spec, err)
            return None
        self._touch(path)
        return Lut(array, spec, f"cache ({path})", checked=check)

    def discard_damaged(self, spec: GeometrySpec, reason) -> None:
        """Report the entry for ``spec`` as damaged and remove it (the caller rebuilds it)."""
        path = self.path_for(cache_key(spec))
        log.warning("cache entry %s is damaged (%s): rebuilding it", path, reason)
        self._discard(path)

    def store(self, lut: Lut) -> Path | None:
        """Write the entry atomically; on failure warn and go on without the cache."""
        key = cache_key(lut.spec)
        path = self.path_for(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_output(path) as stream:
                for part in _encode(key, lut):
                    stream.write(part)
        except OSError as err:
            log.warning("cannot write the LUT cache in %s (%s): going on without it",
                        self.folder, err.strerror or err)
            return None
        if self.max_bytes is not None:
            self.evict(self.max_bytes, keep=path)
        return path

    def entries(self) -> list[Entry]:
        """Every entry in the folder, most recently used first (unreadable headers too)."""
        found = []
        for path in self.folder.glob(f"*{SUFFIX}"):
            try:
                stat = path.stat()
            except OSError:
                continue
            found.append(Entry(path.stem, path, _read_spec(path), stat.st_size, stat.st_mtime))
        return sorted(found, key=lambda entry: entry.last_used, reverse=True)

    def find(self, prefix: str) -> Entry:
        """The one entry whose key starts with ``prefix``."""
        matches = [entry for entry in self.entries() if entry.key.startswith(prefix)]
        if len(matches) != 1:
            what = "no entry" if not matches else f"{len(matches)} entries"
            raise CacheError(f"{what} in {self.folder} with a key starting {prefix!r}")
        return matches[0]

    def clear(self, older_than_days: float | None = None) -> int:
        """Remove entries (those unused for ``older_than_days``, if given); returns how many."""
        cutoff = None if older_than_days is None else time.time() - older_than_days * 86400
        removed = 0
        for entry in self.entries():
            if cutoff is None or entry.last_used < cutoff:
                removed += self._discard(entry.path)
        return removed

    def evict(self, max_bytes: int, keep: Path | None = None) -> int:
        """Remove least recently used entries until the total is at most ``max_bytes``."""
        entries = self.entries()
        total = sum(entry.bytes for entry in entries)
        removed = 0
        for entry in reversed(entries):
            if total <= max_bytes:
                break
            if entry.path != keep and self._discard(entry.path):
                total -= entry.bytes
                removed += 1
        return removed

    @staticmethod
    def _discard(path: Path) -> int:
        try:
            path.unlink()
            return 1
        except OSError:
            return 0

    @staticmethod
    def _touch(path: Path) -> None:
        """Record the use (mtime is the last use: atime is often not kept)."""
        try:
            os.utime(path)
        except OSError:
            pass


def _read_spec(path: Path) -> GeometrySpec | None:
    """The spec in an entry's header, without verifying the payload (for listings)."""
    try:
        with open(path, "rb") as stream:
            magic, version, header_length, _ = PREAMBLE.unpack(stream.read(PREAMBLE.size))
            if magic != MAGIC or version != FORMAT_VERSION:
                return None
            return GeometrySpec.from_dict(json.loads(stream.read(header_length))["spec"])
    except (OSError, ValueError, KeyError, TypeError, struct.error, SpecError):
        return None
