"""The LUT cache: keys, verified loads, damage caught and rebuilt, atomic concurrent stores."""

import logging
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from polewarp import GeometrySpec, build_lut
from polewarp.engine.cache import FORMAT_VERSION, LutCache, cache_key, default_cache_dir, parse_size
from polewarp.engine.errors import CacheError, SpecError
from polewarp.engine.pipeline import obtain_lut

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
                                        ("1.5K", 1536), (None, None)])
def test_parse_size(text, value):
    assert parse_size(text) == value


def test_parse_size_refuses_nonsense():
    with pytest.raises(SpecError):
        parse_size("lots")


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

