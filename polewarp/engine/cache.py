"""On-disk LUT cache: key -> file, verified memory-mapped load, atomic store, LRU eviction.

An entry is one self-describing file: a fixed header (magic, format version, header length,
crc32), a JSON header (key, spec, shape, dtype), padding, then the raw array (and, when the spec
draws a graticule, its (H, W) uint8 mask right after it). The crc32 covers
every byte but its own, so a truncated, flipped or foreign file is caught on load and rebuilt.
The checksum proves the bytes intact, not that polewarp wrote them (a shared folder is writable
by others), so the JSON header must also be exactly what polewarp writes for its geometry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import mmap
import os
import re
import stat
import struct
import time
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np

from .atomic import atomic_output
from .choices import ENV_CACHE_DIR, ENV_CACHE_MAX
from .errors import CacheError, SpecError
from .gather import check_graticule, check_lut
from .geometry import GeometrySpec
from .lut import Lut, graticule_layout, lut_layout

log = logging.getLogger("polewarp")

# 1 knew two projections and no input aspect; 2 entries may hold LUTs that kernels loaded from
# numba's cache filled wrongly (two kernels under one symbol, see jit.named_after): rebuilt
FORMAT_VERSION = 3
MAGIC = b"PWLUT\r\n\x1a"
PREAMBLE = struct.Struct("<8sIII")  # magic, format version, JSON header length, crc32
CRC_OFFSET = 16
ALIGN = 64
SUFFIX = ".pwlut"
DEFAULT_MAX_BYTES = 4 * 2**30
MAX_HEADER_BYTES = 2**16  # a header is a few hundred bytes; more is not one polewarp wrote
MAX_NESTING = 4  # sidecars nest four deep (the object, the projections, one side, its bounds)
HEADER_FIELDS = ("key", "spec", "shape", "dtype")
SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
SIZE_PATTERN = re.compile(r"(\d+(?:\.\d+)?|\.\d+) *([KMGT]?)(?:I?B)?")


def cache_key(spec: GeometrySpec) -> str:
    """A hash of the spec's canonical form and the format version: equal specs, equal keys."""
    canonical = json.dumps({"format": FORMAT_VERSION, "spec": spec.to_dict()}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def default_cache_dir(cache_dir=None) -> Path:
    """--cache-dir, else $POLEWARP_CACHE_DIR, else $XDG_CACHE_HOME/polewarp, else ~/.cache/polewarp."""
    if cache_dir:
        return Path(cache_dir)
    if os.environ.get(ENV_CACHE_DIR):
        return Path(os.environ[ENV_CACHE_DIR])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "polewarp"


def parse_size(text, name: str = f"--max-cache-size (or ${ENV_CACHE_MAX})") -> int | None:
    """'500M', '2G', '4GiB', '1048576' -> bytes; 'none' -> None (no cap); None or '' -> the
    default cap. Anything else (inf, nan, 1e400, -5) is a SpecError naming ``name``."""
    words = "" if text is None else str(text).strip().upper()
    if not words:
        return DEFAULT_MAX_BYTES
    if words == "NONE":
        return None
    match = SIZE_PATTERN.fullmatch(words)
    if match is None:
        raise SpecError(f"{name} {text!r}: give bytes, a number with K, M, G or T (e.g. 500M), or none")
    value = int(Fraction(match[1]) * SIZE_UNITS[match[2]])
    if value <= 0:
        raise SpecError(f"{name} {text!r}: the cap must be at least one byte (none: no cap)")
    return value


def cache_cap(option: str | None = None) -> int | None:
    """The cap in bytes (None: no cap) from --max-cache-size, else $POLEWARP_CACHE_MAX, else
    4 GiB; a bad value names where it came from."""
    if option:
        return parse_size(option, "--max-cache-size")
    return parse_size(os.environ.get(ENV_CACHE_MAX), f"${ENV_CACHE_MAX}")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One cache file as listed: its key, spec (None if damaged: ``problem`` says how), size on
    disk and last use."""

    key: str
    path: Path
    spec: GeometrySpec | None
    bytes: int
    last_used: float
    problem: str | None = None


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    for test, words in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket"),
                        (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return words
    return "a special file"


def open_regular(path):
    """Open ``path`` for reading only if it is a regular file: a plain open of a FIFO blocks
    until someone writes to it. Anything else is a CacheError saying what it is."""
    handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        mode = os.fstat(handle).st_mode
        if not stat.S_ISREG(mode):
            raise CacheError(f"{_kind(mode)}, not a regular file")
        os.set_blocking(handle, True)
        return os.fdopen(handle, "rb")
    except BaseException:
        os.close(handle)
        raise


def canonical_json(value) -> str:
    """One text per JSON value (keys sorted), to compare what was read with what is written."""
    return json.dumps(value, sort_keys=True)


def _nesting(value) -> int:
    """How deep lists and objects nest in a parsed JSON value (without recursion)."""
    depth, level = 0, [value]
    while any(isinstance(item, (list, dict)) for item in level):
        depth += 1
        level = [child for item in level if isinstance(item, (list, dict))
                 for child in (item.values() if isinstance(item, dict) else item)]
    return depth


def parse_json(raw: bytes, what: str):
    """A small, shallow JSON document (a header, a sidecar), so that comparing and printing its
    values is safe; anything else is a CacheError."""
    if len(raw) > MAX_HEADER_BYTES:
        raise CacheError(f"{what} is over {MAX_HEADER_BYTES} bytes")
    try:
        document = json.loads(raw)
    except RecursionError:
        raise CacheError(f"{what} nests too deep") from None
    except ValueError as err:  # bad JSON or UTF-8, an integer of thousands of digits
        raise CacheError(f"{what} is not JSON ({err})") from None
    if _nesting(document) > MAX_NESTING:
        raise CacheError(f"{what} nests too deep")
    return document


def spec_from(data, what: str) -> GeometrySpec:
    """The GeometrySpec a header or sidecar holds, which must be in to_dict's canonical form."""
    if not isinstance(data, dict):
        raise CacheError(f"{what} is not a JSON object")
    try:
        spec = GeometrySpec.from_dict(data)
    except (TypeError, ValueError, OverflowError) as err:  # SpecError is a ValueError
        raise CacheError(f"{what}: {err}") from None
    if canonical_json(spec.to_dict()) != canonical_json(data):
        raise CacheError(f"{what} is not the canonical form polewarp writes")
    return spec


def _header(key: str, spec: GeometrySpec, shape, dtype: np.dtype) -> dict:
    """The JSON header of an entry: what _encode writes and _parse_header expects."""
    return {"key": key, "spec": spec.to_dict(), "shape": list(shape), "dtype": dtype.newbyteorder("<").str}


def brief_json(value, limit: int = 40) -> str:
    """A value read from a file, shortened for a message."""
    text = canonical_json(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _parse_header(raw: bytes, payload_bytes: int, key: str) -> GeometrySpec:
    """The spec of entry ``key`` whose JSON header is ``raw`` and whose array has
    ``payload_bytes``; a header other than the one _encode writes for them is a CacheError."""
    header = parse_json(raw, "its header")
    if not isinstance(header, dict) or sorted(header) != sorted(HEADER_FIELDS):
        raise CacheError(f"its header is not an object of {', '.join(HEADER_FIELDS)}")
    spec = spec_from(header["spec"], "its header's geometry")
    if cache_key(spec) != key:
        raise CacheError("built for another geometry")
    shape, dtype = lut_layout(spec)
    expected = _header(key, spec, shape, dtype)
    for name in HEADER_FIELDS:
        if canonical_json(header[name]) != canonical_json(expected[name]):
            raise CacheError(f"its header's {name} {brief_json(header[name])} does not match its geometry")
    needed = math.prod(shape) * dtype.itemsize + _graticule_bytes(spec)
    if payload_bytes != needed:
        raise CacheError(f"its array is {payload_bytes} bytes, not the {needed} of its shape")
    return spec


def _graticule_bytes(spec: GeometrySpec) -> int:
    """The bytes of the graticule mask that follow the LUT in an entry (0: the spec has none)."""
    layout = graticule_layout(spec)
    return 0 if layout is None else math.prod(layout[0]) * layout[1].itemsize


def _check_preamble(magic: bytes, version: int, header_length: int, file_bytes: int) -> None:
    """The fixed header: polewarp's magic and format, a JSON header that fits in the file."""
    if magic != MAGIC:
        raise CacheError("not a polewarp cache entry")
    if version != FORMAT_VERSION:
        raise CacheError(f"format version {version}, expected {FORMAT_VERSION}")
    if PREAMBLE.size + header_length > file_bytes:
        raise CacheError(f"its header length ({header_length} bytes) is larger than the file")
    if header_length > MAX_HEADER_BYTES:
        raise CacheError(f"its header length ({header_length} bytes) is over {MAX_HEADER_BYTES}")


def _json_header(key: str, spec: GeometrySpec, shape, dtype: np.dtype) -> tuple[bytes, int]:
    """The entry's JSON header, padded so that the array starts aligned, and the crc32 so far
    (of the preamble's first bytes and the header): the payload's bytes continue it."""
    header = json.dumps(_header(key, spec, shape, dtype)).encode()
    header += b" " * (-(PREAMBLE.size + len(header)) % ALIGN)
    crc = zlib.crc32(PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header), 0)[:CRC_OFFSET])
    return header, zlib.crc32(header, crc)


def _encode(key: str, lut: Lut) -> list[bytes]:
    """The entry's bytes, crc32 included, as a few parts (the array is not copied)."""
    array = np.ascontiguousarray(lut.array, dtype=lut.array.dtype.newbyteorder("<"))
    header, crc = _json_header(key, lut.spec, array.shape, array.dtype)
    payloads = [memoryview(array).cast("B")]
    if lut.graticule is not None:  # the mask's bytes follow the LUT's (its layout is the spec's)
        payloads.append(memoryview(np.ascontiguousarray(lut.graticule)).cast("B"))
    for payload in payloads:
        crc = zlib.crc32(payload, crc)
    return [PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header), crc), header, *payloads]


class EntryWriter:
    """An entry stored as its rows come (the banded pipeline's LUT, never whole in memory):
    ``write`` each run of rows in order, then ``commit``; ``abort`` (or a failed write) leaves
    nothing. A failure to write is a warning, as for ``store``: the run goes on without it."""

    def __init__(self, cache: LutCache, spec: GeometrySpec):
        self.cache, self.key = cache, cache_key(spec)
        self.path = cache.path_for(self.key)
        shape, dtype = lut_layout(spec)
        self.dtype = dtype.newbyteorder("<")
        self.header, self.crc = _json_header(self.key, spec, shape, self.dtype)
        self._output = contextlib.ExitStack()
        self.stream = None
        self._guarded(self._open)

    def _open(self) -> None:
        self.cache.folder.mkdir(parents=True, exist_ok=True)
        self.stream = self._output.enter_context(atomic_output(self.path))
        self.stream.write(PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(self.header), 0) + self.header)

    def _guarded(self, step) -> None:
        """Run a step of the write; on OSError warn, drop the temporary file, write no more."""
        if self.stream is None and step != self._open:
            return
        try:
            step()
        except OSError as err:
            log.warning("cannot write the LUT cache in %s (%s): going on without it",
                        self.cache.folder, err.strerror or err)
            self.abort()

    def write(self, rows: np.ndarray) -> None:
        """The next rows of the LUT."""
        data = memoryview(np.ascontiguousarray(rows, self.dtype)).cast("B")

        def step():
            self.crc = zlib.crc32(data, self.crc)
            self.stream.write(data)

        self._guarded(step)

    def commit(self) -> Path | None:
        """Seal the entry (its checksum in place) and keep the cache within its cap."""
        def step():
            self.stream.seek(0)
            self.stream.write(PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(self.header), self.crc))
            self.stream = None
            self._output.close()

        self._guarded(step)
        if not self.path.exists():
            return None
        self.cache.evict(self.cache.max_bytes, keep=self.path)
        return self.path

    def abort(self) -> None:
        """Drop the entry being written (its temporary file is removed)."""
        self.stream = None
        self._output.__exit__(OSError, OSError("aborted"), None)


def _map(path: Path) -> mmap.mmap:
    """The entry's bytes, memory-mapped read-only."""
    with open_regular(path) as stream:
        if os.fstat(stream.fileno()).st_size < PREAMBLE.size:  # an empty file cannot be mapped
            raise CacheError("truncated (shorter than its header)")
        return mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)


def _decode(key: str, buffer) -> tuple[np.ndarray, np.ndarray | None]:
    """Verify entry ``key``'s bytes and return read-only arrays over them: the LUT and its
    graticule mask (None without one)."""
    magic, version, header_length, crc = PREAMBLE.unpack_from(buffer)
    _check_preamble(magic, version, header_length, len(buffer))
    view = memoryview(buffer)
    if zlib.crc32(view[PREAMBLE.size:], zlib.crc32(view[:CRC_OFFSET])) != crc:
        raise CacheError("checksum mismatch (truncated or corrupted)")
    offset = PREAMBLE.size + header_length
    spec = _parse_header(bytes(view[PREAMBLE.size:offset]), len(buffer) - offset, key)
    shape, dtype = lut_layout(spec)
    array = np.frombuffer(buffer, dtype=dtype.newbyteorder("<"), offset=offset, count=math.prod(shape))
    layout = graticule_layout(spec)
    if layout is None:
        return array.reshape(shape), None
    mask = np.frombuffer(buffer, dtype=layout[1], offset=offset + array.nbytes).reshape(layout[0])
    return array.reshape(shape), mask


class LutCache:
    """A folder of LUT entries, at most ``max_bytes`` in all (None: no cap). Failures to write
    are warnings: the cache never fails a run."""

    def __init__(self, folder, max_bytes: int | None = DEFAULT_MAX_BYTES):
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
            array, mask = _decode(key, _map(path))
            check_graticule(mask, spec)  # a pass over H x W bytes: always, the gather does not see it
            if check:
                check_lut(array, spec.input_shape, spec.resample)
        except FileNotFoundError:
            return None
        except OSError as err:
            log.warning("cache entry %s unreadable (%s): rebuilding it", path, err.strerror or err)
            self._discard(path)
            return None
        except CacheError as err:
            self.discard_damaged(spec, err)
            return None
        self._touch(path)
        self.evict(self.max_bytes, keep=path)
        return Lut(array, spec, f"cache ({path})", checked=check, graticule=mask)

    def discard_damaged(self, spec: GeometrySpec, reason) -> None:
        """Report the entry for ``spec`` as damaged and remove it (the caller rebuilds it)."""
        path = self.path_for(cache_key(spec))
        log.warning("cache entry %s is damaged (%s): rebuilding it", path, reason)
        self._discard(path)

    def store(self, lut: Lut) -> Path | None:
        """Write the entry atomically, then keep the cache within its cap; on failure warn and
        go on without the cache. An entry larger than the cap is not stored."""
        key = cache_key(lut.spec)
        path = self.path_for(key)
        parts = _encode(key, lut)
        size = sum(len(part) for part in parts)
        if self.max_bytes is not None and size > self.max_bytes:
            log.debug("the LUT (%s bytes) is larger than the cache cap (%s bytes): not stored",
                      f"{size:,}", f"{self.max_bytes:,}")
            return None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_output(path) as stream:
                for part in parts:
                    stream.write(part)
        except OSError as err:
            log.warning("cannot write the LUT cache in %s (%s): going on without it",
                        self.folder, err.strerror or err)
            return None
        self.evict(self.max_bytes, keep=path)
        return path

    def writer(self, spec: GeometrySpec) -> EntryWriter | None:
        """An ``EntryWriter`` for ``spec``'s entry, or None when it would be larger than the cap."""
        shape, dtype = lut_layout(spec)
        header = _json_header(cache_key(spec), spec, shape, dtype)[0]
        size = PREAMBLE.size + len(header) + math.prod(shape) * dtype.itemsize
        if self.max_bytes is not None and size > self.max_bytes:
            log.debug("the LUT (%s bytes) is larger than the cache cap (%s bytes): not stored",
                      f"{math.prod(shape) * dtype.itemsize:,}", f"{self.max_bytes:,}")
            return None
        return EntryWriter(self, spec)

    def _files(self) -> list[tuple[Path, os.stat_result]]:
        """Every entry file and its stat, most recently used first (no file is opened)."""
        found = []
        for path in self.folder.glob(f"*{SUFFIX}"):
            try:
                found.append((path, path.stat()))
            except OSError:
                continue
        return sorted(found, key=lambda item: item[1].st_mtime, reverse=True)

    def entries(self) -> list[Entry]:
        """Every entry in the folder, most recently used first (damaged ones too, saying how)."""
        return [_listed(path, info) for path, info in self._files()]

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
        return sum(self._discard(path) for path, info in self._files()
                   if cutoff is None or info.st_mtime < cutoff)

    def evict(self, max_bytes: int | None, keep: Path | None = None) -> int:
        """Remove least recently used entries (never ``keep``, the one in use) until the total
        is at most ``max_bytes`` (None: no cap); returns how many."""
        if max_bytes is None:
            return 0
        files = self._files()
        total = sum(info.st_size for _, info in files)
        removed = 0
        for path, info in reversed(files):
            if total <= max_bytes:
                break
            if path != keep and self._discard(path):
                total -= info.st_size
                removed += 1
        if removed:
            log.debug("evicted %d least recently used cache entr%s to keep %s within %s bytes",
                      removed, "y" if removed == 1 else "ies", self.folder, f"{max_bytes:,}")
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


def _read_spec(path: Path) -> GeometrySpec:
    """The spec in an entry's header, checked as on load but without reading the array (for
    listings); a CacheError says what is wrong."""
    with open_regular(path) as stream:
        file_bytes = os.fstat(stream.fileno()).st_size
        if file_bytes < PREAMBLE.size:
            raise CacheError("truncated (shorter than its header)")
        magic, version, header_length, _ = PREAMBLE.unpack(stream.read(PREAMBLE.size))
        _check_preamble(magic, version, header_length, file_bytes)
        raw = stream.read(header_length)
    return _parse_header(raw, file_bytes - PREAMBLE.size - header_length, path.stem)


def _listed(path: Path, info: os.stat_result) -> Entry:
    """The listing of one entry file: its spec, or what makes it damaged."""
    try:
        spec, problem = _read_spec(path), None
    except CacheError as err:
        spec, problem = None, str(err)
    except OSError as err:
        spec, problem = None, f"unreadable ({err.strerror or err})"
    return Entry(path.stem, path, spec, info.st_size, info.st_mtime, problem)
