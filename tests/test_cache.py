"""The LUT cache: keys, verified loads, damage caught and rebuilt, atomic concurrent stores."""

import json
import logging
import os
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from polewarp import GeometrySpec, build_lut
from polewarp.cli import cli
from polewarp.engine.cache import FORMAT_VERSION, LutCache, cache_key, default_cache_dir, parse_size
from polewarp.engine.errors import CacheError, SpecError
from polewarp.engine.imageio import read_image
from polewarp.engine.lutfile import save_lut
from polewarp.engine.pipeline import obtain_lut

from . import reference
from .conftest import run_env

SPEC = GeometrySpec((64, 32), heading=30)


@pytest.fixture
def cache(tmp_path):
    return LutCache(tmp_path / "lut-cache")


def test_store_then_load_gives_the_same_read_only_lut(cache):
    built = build_lut(SPEC)
    path = cache.store(built)
    assert path.name == cache_key(SPEC) + ".pwlut"
    loaded = cache.load(SPEC)
    np.testing.assert_array_equal(loaded.array, built.array)
    assert loaded.spec == SPEC and "cache" in loaded.origin
    assert not loaded.array.flags.writeable


def test_miss_builds_and_stores_then_hits(cache):
    first = obtain_lut(SPEC, cache=cache)
    assert first.origin.startswith("built")
    second = obtain_lut(SPEC, cache=cache)
    assert second.origin.startswith("cache")
    np.testing.assert_array_equal(first.array, second.array)


def _damage(path, how):
    data = bytearray(path.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "flipped byte":
        data[-5] ^= 0x01
    elif how == "flipped header byte":
        data[40] ^= 0x20
    elif how == "old version":
        data[8] = FORMAT_VERSION + 1
    elif how == "foreign":
        data = bytearray(b"GIF89a" + bytes(100))
    elif how == "empty":
        data = bytearray()
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncated", "flipped byte", "flipped header byte", "old version",
                                 "foreign", "empty"])
def test_damaged_entry_is_reported_rebuilt_and_replaced(cache, how, caplog):
    built = build_lut(SPEC)
    path = cache.store(built)
    _damage(path, how)
    with caplog.at_level(logging.WARNING, logger="polewarp"):
        assert cache.load(SPEC) is None
    assert "rebuilding" in caplog.text
    again = obtain_lut(SPEC, cache=cache)
    assert again.origin.startswith("built")
    np.testing.assert_array_equal(cache.load(SPEC).array, built.array)


def test_entry_for_another_geometry_under_this_key_is_refused(cache):
    other = build_lut(GeometrySpec((64, 32), heading=31))
    cache.store(other)
    cache.path_for(cache_key(other.spec)).rename(cache.path_for(cache_key(SPEC)))
    assert cache.load(SPEC) is None


def test_unwritable_cache_is_a_warning(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = LutCache(blocker / "cache")
    with caplog.at_level(logging.WARNING, logger="polewarp"):
        lut = obtain_lut(SPEC, cache=cache)
    assert lut.origin.startswith("built") and "going on without it" in caplog.text


def test_location_order(tmp_path, monkeypatch):
    monkeypatch.setenv("POLEWARP_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir(tmp_path / "opt") == tmp_path / "opt"
    assert default_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("POLEWARP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "polewarp"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "polewarp"


def test_list_find_clear_and_evict(cache):
    specs = [GeometrySpec((64, 32), heading=h) for h in (10, 20, 30)]
    for age, spec in enumerate(specs):
        path = cache.store(build_lut(spec))
        then = time.time() - (3 - age) * 86400
        os.utime(path, (then, then))
    entries = cache.entries()
    assert [e.spec for e in entries] == specs[::-1]
    assert cache.find(cache_key(specs[0])[:6]).spec == specs[0]
    with pytest.raises(CacheError, match="no entry"):
        cache.find("zzzz")
    assert cache.clear(older_than_days=2.5) == 1
    size = entries[0].bytes
    assert cache.evict(size) == 1
    assert [e.spec for e in cache.entries()] == [specs[2]]
    assert cache.clear() == 1 and cache.entries() == []


def test_size_cap_evicts_least_recently_used(tmp_path):
    first = LutCache(tmp_path / "c").store(build_lut(GeometrySpec((64, 32), heading=1)))
    os.utime(first, (1, 1))
    capped = LutCache(tmp_path / "c", max_bytes=first.stat().st_size + 10)
    second = capped.store(build_lut(GeometrySpec((64, 32), heading=2)))
    assert not first.exists() and second.exists()


@pytest.mark.parametrize("text,value", [("500M", 500 * 2**20), ("2g", 2 * 2**30), ("1024", 1024),
                                        ("1.5K", 1536), ("4GiB", 4 * 2**30), ("none", None),
                                        (None, 4 * 2**30)])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["lots", "inf", "-inf", "1e400", "nan", "-5", "0", "5X"])
def test_parse_size_refuses_nonsense(text):
    with pytest.raises(SpecError, match="--max-cache-size"):
        parse_size(text)


@pytest.mark.slow
def test_eight_processes_converting_one_new_geometry(tmp_path, map_file):
    """All succeed, all outputs are identical, one valid entry remains, no temporaries."""
    source, _ = map_file
    folder = tmp_path / "shared-cache"
    runs = [subprocess.Popen(
        [sys.executable, "-m", "polewarp", "convert", str(source), "-o", str(tmp_path / f"out{i}.png"),
         "--cache-dir", str(folder), "--heading", "12.5"], env=run_env(), stderr=subprocess.PIPE)
        for i in range(8)]
    for run in runs:
        assert run.wait(timeout=120) == 0, run.stderr.read()
        run.stderr.close()
    outputs = {(tmp_path / f"out{i}.png").read_bytes() for i in range(8)}
    assert len(outputs) == 1
    assert [p.suffix for p in folder.iterdir()] == [".pwlut"]
    spec = GeometrySpec((64, 32), heading=12.5)
    np.testing.assert_array_equal(LutCache(folder).load(spec).array, build_lut(spec).array)


def test_cache_hit_does_not_import_numba(tmp_path, map_file):
    source, _ = map_file
    folder = tmp_path / "c"
    LutCache(folder).store(build_lut(GeometrySpec((64, 32))))
    code = (
        "import sys\nfrom polewarp.cli import cli\n"
        "assert cli.main(sys.argv[1:], standalone_mode=False) in (0, None)\n"
        "assert 'numba' not in sys.modules, 'numba was imported'\n"
    )
    for args in (["convert", str(source), "-o", str(tmp_path / "o.png"), "--cache-dir", str(folder)],
                 ["--help"], ["cache", "list", "--cache-dir", str(folder)]):
        subprocess.run([sys.executable, "-c", code, *args], env=run_env(), check=True, capture_output=True)



# Entries polewarp did not write: a valid checksum over a header that is not polewarp's.

DEFAULT = GeometrySpec((64, 32))


def _forge(folder, header: bytes, payload: bytes, header_length=None):
    """An entry for DEFAULT with this JSON header and array, its crc32 recomputed."""
    from polewarp.engine.cache import CRC_OFFSET, MAGIC, PREAMBLE

    length = len(header) if header_length is None else header_length
    crc = zlib.crc32(PREAMBLE.pack(MAGIC, FORMAT_VERSION, length, 0)[:CRC_OFFSET])
    crc = zlib.crc32(payload, zlib.crc32(header, crc))
    folder.mkdir(parents=True, exist_ok=True)
    path = LutCache(folder).path_for(cache_key(DEFAULT))
    path.write_bytes(PREAMBLE.pack(MAGIC, FORMAT_VERSION, length, crc) + header + payload)
    return path


def _fields(**changes):
    """The header polewarp writes for DEFAULT, with some fields changed."""
    fields = {"key": cache_key(DEFAULT), "spec": DEFAULT.to_dict(), "shape": [32, 64, 2], "dtype": "<u2"}
    return json.dumps({**fields, **changes}).encode()


PAYLOAD = bytes(32 * 64 * 2 * 2)
POISONS = {
    "a list": (b"[1, 2]", PAYLOAD),
    "a string": (b'"key"', PAYLOAD),
    "null": (b"null", PAYLOAD),
    "shape 10^20": (_fields(shape=[10**20, 64, 2]), PAYLOAD),
    "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, PAYLOAD),
    "nested 20,000 deep": (b"[" * 20_000 + b"]" * 20_000, PAYLOAD),
    "legacy nested 900 deep": (_fields(spec={**DEFAULT.to_dict(), "legacy": "@"}).replace(
        b'"@"', b"[" * 900 + b"]" * 900), PAYLOAD),
    "object dtype": (_fields(dtype="|O"), PAYLOAD),
    "float dtype": (_fields(dtype="<f8"), PAYLOAD),
    "spec a list": (_fields(spec=[1, 2]), PAYLOAD),
    "heading a string": (_fields(spec={**DEFAULT.to_dict(), "heading": "90"}), PAYLOAD),
    "center nested": (_fields(spec={**DEFAULT.to_dict(), "center": [[0], {}]}), PAYLOAD),
    "an extra field": (json.dumps({**json.loads(_fields()), "x": 1}).encode(), PAYLOAD),
    "short payload": (_fields(), PAYLOAD[:-4]),
    "bad UTF-8": (b'{"key": "\\xff\xfe"}', PAYLOAD),
}


@pytest.fixture(params=list(POISONS) + ["header length past the end"])
def poisoned(request, isolated_cache):
    if request.param == "header length past the end":
        return _forge(isolated_cache, _fields(), PAYLOAD, header_length=2**31)
    return _forge(isolated_cache, *POISONS[request.param])


def test_poisoned_entry_is_reported_and_rebuilt_by_convert(runner, map_file, tmp_path, poisoned):
    source, pixels = map_file
    out = tmp_path / "out.png"
    result = runner.invoke(cli, ["convert", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"cache entry {poisoned} is damaged" in result.stderr and "rebuilding it" in result.stderr
    lut = reference.accurate_lut(64, 32)
    np.testing.assert_array_equal(read_image(out).pixels, pixels[lut[..., 0], lut[..., 1]])
    np.testing.assert_array_equal(LutCache(poisoned.parent).load(DEFAULT).array, lut)


def test_poisoned_entry_is_listed_as_damaged(runner, poisoned):
    listing = runner.invoke(cli, ["cache", "list"])
    assert listing.exit_code == 0 and listing.exception is None, listing.output
    assert f"{poisoned.stem[:12]}" in listing.stdout and "damaged: " in listing.stdout
    shown = runner.invoke(cli, ["cache", "info", poisoned.stem[:8]])
    assert shown.exit_code == 0 and shown.exception is None, shown.output
    assert "\ndamaged " in shown.stdout and "\ngeometry " not in shown.stdout


def test_header_claiming_more_than_the_file_is_damage_in_a_listing(isolated_cache):
    _forge(isolated_cache, _fields(), PAYLOAD, header_length=2**31)
    [entry] = LutCache(isolated_cache).entries()
    assert entry.spec is None and "larger than the file" in entry.problem


# Files that are not regular files: opening a FIFO for reading blocks until a writer comes.

def _run(*args, timeout=60):
    """A real polewarp run; a hang fails the test (the child is killed) instead of the suite."""
    return subprocess.run([sys.executable, "-m", "polewarp", *args], env=run_env(), capture_output=True,
                          text=True, timeout=timeout)


def test_fifo_as_cache_entry_is_damage_not_a_hang(map_file, tmp_path, isolated_cache):
    source, pixels = map_file
    isolated_cache.mkdir()
    fifo = LutCache(isolated_cache).path_for(cache_key(DEFAULT))
    os.mkfifo(fifo)
    listing = _run("cache", "list")
    assert listing.returncode == 0 and "damaged: a FIFO, not a regular file" in listing.stdout, listing.stderr
    out = tmp_path / "out.png"
    converted = _run("convert", str(source), "-o", str(out))
    assert converted.returncode == 0, converted.stderr
    assert "a FIFO, not a regular file" in converted.stderr and "Traceback" not in converted.stderr
    lut = reference.accurate_lut(64, 32)
    np.testing.assert_array_equal(read_image(out).pixels, pixels[lut[..., 0], lut[..., 1]])
    assert fifo.is_file()
    other = LutCache(isolated_cache).path_for("0" * 32)
    os.mkfifo(other)
    cleared = _run("cache", "clear")
    assert cleared.returncode == 0 and "removed 2 entries" in cleared.stdout, cleared.stderr
    assert list(isolated_cache.iterdir()) == []


@pytest.mark.parametrize("which", ["npy", "json"])
def test_fifo_as_lut_file_or_sidecar_is_refused(map_file, tmp_path, which):
    source, _ = map_file
    npy = tmp_path / "t.npy"
    save_lut(build_lut(DEFAULT), npy)
    fifo = npy.with_suffix(f".{which}")
    fifo.unlink()
    os.mkfifo(fifo)
    result = _run("convert", str(source), "-o", str(tmp_path / "o.png"), "--lut", str(npy))
    assert result.returncode == 1, result.stderr
    assert f"{fifo}: a FIFO, not a regular file" in result.stderr and "Traceback" not in result.stderr


# A LUT file and its sidecar are one unit.

def _export(runner, path, *geometry):
    result = runner.invoke(cli, ["lut", "build", "--input-size", "64x32", "-o", str(path), *geometry])
    assert result.exit_code == 0, result.output


def test_torn_lut_pair_is_refused(runner, map_file, tmp_path):
    """A new array beside an old sidecar (an export stopped between the two writes)."""
    source, _ = map_file
    _export(runner, tmp_path / "x.npy", "--heading", "10")
    _export(runner, tmp_path / "y.npy", "--heading", "80")
    (tmp_path / "y.npy").replace(tmp_path / "x.npy")
    out = tmp_path / "o.png"
    result = runner.invoke(cli, ["convert", str(source), "-o", str(out), "--lut", str(tmp_path / "x.npy")])
    assert result.exit_code == 1, result.output
    assert f"{tmp_path / 'x.npy'} and its sidecar x.json are not one pair" in result.stderr
    assert not out.exists()


def test_sidecar_without_the_arrays_checksum_is_refused(runner, map_file, tmp_path):
    source, _ = map_file
    npy = tmp_path / "x.npy"
    _export(runner, npy)
    sidecar = json.loads(npy.with_suffix(".json").read_text())
    del sidecar["sha256"]
    npy.with_suffix(".json").write_text(json.dumps({**sidecar, "format_version": 1}))
    result = runner.invoke(cli, ["convert", str(source), "-o", str(tmp_path / "o.png"), "--lut", str(npy)])
    assert result.exit_code == 1, result.output
    assert "x.json: written by an older polewarp" in result.stderr and "lut build" in result.stderr


@pytest.mark.parametrize("text", ["[1]", "null", '"x"', "[" * 100_000 + "]" * 100_000,
                                  "[" * 20_000 + "]" * 20_000, '{"format_version": 2, "geometry": [1]}'])
def test_sidecar_that_polewarp_did_not_write_is_refused(runner, map_file, tmp_path, text):
    source, _ = map_file
    npy = tmp_path / "x.npy"
    _export(runner, npy)
    npy.with_suffix(".json").write_text(text)
    result = runner.invoke(cli, ["convert", str(source), "-o", str(tmp_path / "o.png"), "--lut", str(npy)])
    assert result.exit_code == 1, result.output
    assert f"{npy.with_suffix('.json')}: " in result.stderr and len(result.stderr.splitlines()) == 1


def test_empty_npy_is_one_line(runner, map_file, tmp_path):
    source, _ = map_file
    npy = tmp_path / "x.npy"
    _export(runner, npy)
    npy.write_bytes(b"")
    result = runner.invoke(cli, ["convert", str(source), "-o", str(tmp_path / "o.png"), "--lut", str(npy)])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == f"Error: {npy}: the file is empty"


# Temporary names.

@pytest.mark.parametrize("length", [250, 255])
def test_output_name_of_up_to_255_bytes(runner, map_file, tmp_path, length):
    source, _ = map_file
    out = tmp_path / ("m" * (length - 4) + ".png")
    result = runner.invoke(cli, ["convert", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert read_image(out).size == (64, 32) and sorted(tmp_path.iterdir()) == sorted(
        [out, tmp_path / "map.png", tmp_path / "cache"])


def test_stray_temporary_of_an_output_is_found_and_only_its(tmp_path):
    from polewarp.engine.atomic import atomic_output, temporaries_for
    from polewarp.engine.batch import remove_stray_temporaries

    names = ["a" * 200 + ".png", "a" * 200 + ".jpg", "[x]*.png"]
    writes = [atomic_output(tmp_path / name) for name in names]
    for write in writes:
        write.__enter__().write(b"partial")  # never finished: as if the writer was killed
    strays = {name: temporaries_for(tmp_path / name) for name in names}
    assert all(len(found) == 1 for found in strays.values()), strays
    assert len({found[0] for found in strays.values()}) == 3
    assert all(len(os.fsencode(found[0].name)) <= 100 for found in strays.values())

    class Item:
        output = tmp_path / names[0]

    remove_stray_temporaries([Item()])
    assert sorted(tmp_path.iterdir()) == sorted(strays[names[1]] + strays[names[2]])


# The size cap.

def _entries(folder):
    return sorted(folder.glob("*.pwlut"))


@pytest.fixture
def entry_bytes(isolated_cache):
    """The size of one 64x32 nearest entry."""
    return len(b"".join(_encode_default()))


def _encode_default():
    from polewarp.engine.cache import _encode

    return _encode(cache_key(DEFAULT), build_lut(DEFAULT))


def _convert(runner, source, out, *options, env=None):
    result = runner.invoke(cli, ["convert", str(source), "-o", str(out), *options], env=env)
    assert result.exit_code == 0, result.output
    return result


def test_default_cap_is_4_gib_and_enforced_after_each_store(runner, map_file, tmp_path, isolated_cache,
                                                             entry_bytes, monkeypatch):
    from polewarp.engine import cache as cache_module

    assert cache_module.DEFAULT_MAX_BYTES == 4 * 2**30
    monkeypatch.setattr(cache_module, "DEFAULT_MAX_BYTES", entry_bytes * 2)
    source, _ = map_file
    for heading in (10, 20, 30):
        _convert(runner, source, tmp_path / "o.png", "--heading", str(heading))
    assert len(_entries(isolated_cache)) == 2
    assert LutCache(isolated_cache).load(GeometrySpec((64, 32), heading=10)) is None


@pytest.mark.parametrize("how", ["option", "variable"])
def test_none_turns_the_cap_off(runner, map_file, tmp_path, isolated_cache, entry_bytes, monkeypatch, how):
    from polewarp.engine import cache as cache_module

    monkeypatch.setattr(cache_module, "DEFAULT_MAX_BYTES", entry_bytes * 2)
    source, _ = map_file
    options = ["--max-cache-size", "none"] if how == "option" else []
    env = {"POLEWARP_CACHE_MAX": "none"} if how == "variable" else None
    for heading in (10, 20, 30):
        _convert(runner, source, tmp_path / "o.png", "--heading", str(heading), *options, env=env)
    assert len(_entries(isolated_cache)) == 3


def test_hit_over_the_cap_evicts_others_never_itself(runner, map_file, tmp_path, isolated_cache, entry_bytes):
    source, _ = map_file
    for age, heading in enumerate((30, 20, 10)):
        _convert(runner, source, tmp_path / "o.png", "--heading", str(heading), "--max-cache-size", "none")
        then = time.time() - (3 - age) * 86400
        os.utime(_newest(isolated_cache), (then, then))
    oldest = LutCache(isolated_cache).path_for(cache_key(GeometrySpec((64, 32), heading=30)))
    result = _convert(runner, source, tmp_path / "o.png", "--heading", "30", "--time",
                      "--max-cache-size", str(entry_bytes))
    assert "cache" in result.stderr.splitlines()[1]  # the lut phase: a hit on the least recently used
    assert _entries(isolated_cache) == [oldest]


def _newest(folder):
    return max(_entries(folder), key=lambda path: path.stat().st_mtime_ns)


def test_entry_larger_than_the_cap_is_not_stored(runner, map_file, tmp_path, isolated_cache, entry_bytes):
    source, _ = map_file
    _convert(runner, source, tmp_path / "o.png", "--max-cache-size", str(entry_bytes - 1))
    assert _entries(isolated_cache) == []


def test_entry_larger_than_the_cap_is_said_at_debug_level(tmp_path, entry_bytes):
    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    logger = logging.getLogger("polewarp")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        assert LutCache(tmp_path / "c", max_bytes=entry_bytes - 1).store(build_lut(DEFAULT)) is None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert [r.levelno for r in records] == [logging.DEBUG]
    assert "larger than the cache cap" in records[0].getMessage()


@pytest.mark.parametrize("value", ["inf", "-inf", "1e400", "nan", "-5", "abc"])
@pytest.mark.parametrize("how", ["option", "variable"])
def test_bad_cache_size_is_a_usage_error_before_any_work(runner, map_file, tmp_path, isolated_cache,
                                                          value, how):
    source, _ = map_file
    out = tmp_path / "o.png"
    args = ["convert", str(source), "-o", str(out)]
    if how == "option":
        result = runner.invoke(cli, [*args, f"--max-cache-size={value}"])
    else:
        result = runner.invoke(cli, args, env={"POLEWARP_CACHE_MAX": value})
    assert result.exit_code == 2, result.output
    assert ("--max-cache-size" if how == "option" else "$POLEWARP_CACHE_MAX") in result.stderr
    assert not out.exists() and not isolated_cache.exists()


@pytest.mark.parametrize("value", ["inf", "-5", "1e400"])
def test_cache_clear_refuses_a_bad_size_before_removing_anything(runner, isolated_cache, value):
    LutCache(isolated_cache).store(build_lut(DEFAULT))
    result = runner.invoke(cli, ["cache", "clear", "--max-cache-size", value])
    assert result.exit_code == 2 and "--max-cache-size" in result.stderr, result.output
    assert len(_entries(isolated_cache)) == 1


def _interrupted_at(code, line):
    """A tracer that raises KeyboardInterrupt (as a signal handler would) once, just before
    ``line`` of ``code`` runs."""
    fired = []

    def local(frame, event, arg):
        if event == "line" and frame.f_lineno == line and not fired:
            fired.append(line)
            raise KeyboardInterrupt
        return local

    return lambda frame, event, arg: local if frame.f_code is code else None


def test_an_interruption_at_any_line_of_a_write_leaves_no_temporary(tmp_path):
    from polewarp.engine.atomic import atomic_output

    code = atomic_output.__wrapped__.__code__
    target = tmp_path / "out.bin"
    for line in sorted({line for _, _, line in code.co_lines() if line}):
        target.write_bytes(b"old")
        sys.settrace(_interrupted_at(code, line))
        try:
            with atomic_output(target) as stream:
                stream.write(b"new")
        except KeyboardInterrupt:
            pass
        finally:
            sys.settrace(None)
        assert sorted(tmp_path.iterdir()) == [target], line
        assert target.read_bytes() in (b"old", b"new")


@pytest.mark.parametrize("source", ["equirectangular", "mercator"])
def test_sidecar_of_the_previous_format_is_read(runner, map_file, tmp_path, source):
    """Version 2 named the input projection 'source' and had no input aspect: read as a normal input."""
    image, _ = map_file
    npy = tmp_path / "x.npy"
    _export(runner, npy, "--from", source)
    sidecar = json.loads(npy.with_suffix(".json").read_text())
    geometry = sidecar["geometry"]
    for name in ("from_center", "from_heading", "lat_ts", "radius", "from_lat_ts", "from_radius"):
        del geometry[name]
    geometry["source"], geometry["input_lat_limit"] = geometry.pop("from"), geometry.pop("from_lat_limit")
    del sidecar["projections"]
    npy.with_suffix(".json").write_text(json.dumps({**sidecar, "format_version": 2}))
    out = tmp_path / "o.png"
    result = runner.invoke(cli, ["convert", str(image), "-o", str(out), "--lut", str(npy)])
    assert result.exit_code == 0, result.output
    direct = tmp_path / "direct.png"
    assert runner.invoke(cli, ["convert", str(image), "-o", str(direct), "--from", source]).exit_code == 0
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(direct)))
