"""The graticule: the mask against the plain-numpy reference (the seam, poles inside the map),
every backend alike, the cache and LUT files carrying and checking it, and the CLI drawing it."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from polewarp import GeometrySpec, build_lut
from polewarp.cli.main import cli
from polewarp.engine import cache as cache_module
from polewarp.engine.cache import LutCache, cache_key
from polewarp.engine.errors import CacheError, SpecError
from polewarp.engine.imageio import read_image
from polewarp.engine.lut import Lut
from polewarp.engine.lutfile import graticule_path, load_lut, save_lut

from . import graticule_reference
from .conftest import run_env

# Sizes are odd where a line would otherwise run along pixel edges (a tie either side may take).
CASES = {
    # the default transverse Mercator: both poles inside (x = +-pi/2, y = 0), the seam along the middle row
    "default": dict(output_size=(257, 129), graticule=30, graticule_rotated=45),
    # a normal equirectangular map with the 180 meridian 10 degrees right of the centre
    "seam": dict(output_size=(251, 125), to="equirectangular", center=(10, 170), heading=0, graticule=10,
                 graticule_rotated=30),
    # an orthographic globe centred at 60N: the north pole inside the disc
    "pole": dict(output_size=(121, 121), to="orthographic", center=(60, 20), heading=0, graticule=15,
                 graticule_rotated=30),
}


def spec_of(case: dict) -> GeometrySpec:
    fields = dict(case)
    return GeometrySpec((64, 32), fields.pop("output_size"), **fields)


def assert_matches_reference(spec, mask):
    want, ties = graticule_reference.mask(spec)
    assert ties.mean() < 0.05, "lines run along pixel edges: choose other sizes"
    wrong = np.argwhere((mask.astype(bool) != want) & ~ties)
    assert wrong.size == 0, f"{len(wrong)} pixels differ, e.g. {wrong[:5].tolist()}"
    assert mask[~ties].sum() > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_mask_is_where_the_reference_says(name):
    spec = spec_of(CASES[name])
    lut = build_lut(spec, backend="serial")
    assert lut.graticule.shape == spec.output_shape and lut.graticule.dtype == np.uint8
    assert_matches_reference(spec, lut.graticule)


@pytest.mark.slow
def test_pole_pixel_is_on_its_parallel_only():
    """The pixel round the north pole: drawn for a step dividing 90 (the pole is a parallel), not
    for 72 (parallels at 0 and +-72), though every meridian meets there."""
    for step, drawn in ((30, True), (72, False)):
        spec = GeometrySpec((64, 32), (121, 121), to="orthographic", center=(60, 0), heading=0, graticule=step)
        mask = build_lut(spec, backend="serial").graticule
        assert mask[30, 60] == drawn  # the pole: y = sin 30 = 0.5, x = 0
        assert mask[40, 60] and mask[20, 60] == drawn  # the meridian 0 below it, 180 above


@pytest.mark.slow
def test_random_aspects_match_the_reference():
    rng = np.random.default_rng(16)
    for _ in range(6):
        to = str(rng.choice(["mercator", "orthographic", "equirectangular"]))
        spec = GeometrySpec((64, 32), (int(rng.integers(40, 90)) * 2 + 1, int(rng.integers(30, 60)) * 2 + 1), to=to,
                            center=(float(rng.uniform(-80, 80)), float(rng.uniform(-180, 180))),
                            heading=float(rng.uniform(0, 360)), graticule=float(rng.choice([5, 10, 20, 45, 72])),
                            graticule_rotated=float(rng.choice([15, 40, 120])))
        assert_matches_reference(spec, build_lut(spec, backend="serial").graticule)


@pytest.mark.slow
def test_every_backend_draws_alike():
    spec = spec_of(CASES["default"])
    serial = build_lut(spec, backend="serial")
    for backend in ("threads", "prange", "processes"):
        lut = build_lut(spec, backend=backend, workers=2, rows_per_task=17)
        np.testing.assert_array_equal(lut.graticule, serial.graticule)
        np.testing.assert_array_equal(lut.array, serial.array)


def test_no_graticule_keeps_the_key_and_has_no_mask():
    plain = GeometrySpec((64, 32))
    assert "graticule" not in plain.to_dict() and build_lut(plain, backend="serial").graticule is None
    drawn = GeometrySpec((64, 32), graticule=30)
    assert cache_key(drawn) != cache_key(plain) != cache_key(GeometrySpec((64, 32), graticule_rotated=30))
    assert GeometrySpec.from_dict(drawn.to_dict()) == drawn and GeometrySpec.from_dict(plain.to_dict()) == plain
    assert "graticule 30" in drawn.describe()


@pytest.mark.parametrize("step", [0, -10, 7, 200, float("nan")])
def test_bad_steps_are_refused(step):
    with pytest.raises(SpecError):
        GeometrySpec((64, 32), graticule=step)


def test_cache_keeps_and_checks_the_mask(isolated_cache, caplog):
    cache = LutCache(isolated_cache)
    lut = build_lut(GeometrySpec((64, 32), graticule=30), backend="serial")
    cache.store(lut)
    hit = cache.load(lut.spec)
    np.testing.assert_array_equal(hit.graticule, lut.graticule)
    np.testing.assert_array_equal(hit.array, lut.array)
    # A mask of other values, under a valid checksum: refused, removed, rebuilt.
    bad = lut.graticule.copy()
    bad[0, 0] = 2
    cache.store(Lut(lut.array, lut.spec, graticule=bad))
    assert cache.load(lut.spec) is None and "only 0 and 1" in caplog.text
    assert not cache.path_for(cache_key(lut.spec)).exists()


def test_cache_entry_without_its_mask_is_damaged(isolated_cache):
    cache = LutCache(isolated_cache)
    lut = build_lut(GeometrySpec((64, 32), graticule=30), backend="serial")
    path = cache.path_for(cache_key(lut.spec))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(bytes(part) for part in cache_module._encode(cache_key(lut.spec),
                                                                          Lut(lut.array, lut.spec))))
    assert cache.load(lut.spec) is None


def test_lut_file_carries_and_checks_the_mask(tmp_path):
    lut = build_lut(GeometrySpec((64, 32), graticule=30), backend="serial")
    path = save_lut(lut, tmp_path / "l.npy")
    loaded = load_lut(path, (64, 32))
    np.testing.assert_array_equal(loaded.graticule, lut.graticule)
    sidecar = json.loads((tmp_path / "l.json").read_text())
    assert len(sidecar["graticule_sha256"]) == 64
    np.save(graticule_path(path), 1 - lut.graticule)
    with pytest.raises(CacheError, match="not the graticule mask"):
        load_lut(path)
    graticule_path(path).unlink()
    with pytest.raises(CacheError, match="cannot read"):
        load_lut(path)


def test_convert_draws_the_graticule(runner, tmp_path, map_file):
    source, _ = map_file
    out, plain = tmp_path / "g.png", tmp_path / "p.png"
    result = runner.invoke(cli, ["convert", str(source), "-o", str(out), "--graticule", "30"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli, ["convert", str(source), "-o", str(plain)]).exit_code == 0
    mask = build_lut(GeometrySpec((64, 32), graticule=30), backend="serial").graticule.astype(bool)
    drawn, under = read_image(out).pixels, read_image(plain).pixels
    assert (drawn[mask] == 211).all() and (drawn[~mask] == under[~mask]).all()
    red = tmp_path / "r.png"
    assert runner.invoke(cli, ["convert", str(source), "-o", str(red), "--graticule", "30",
                               "--graticule-color", "red"]).exit_code == 0
    assert (read_image(red).pixels[mask] == [255, 0, 0]).all()


@pytest.mark.parametrize("args, message", [
    (["--graticule", "7"], "--graticule"),
    (["--graticule-rotated", "0"], "--graticule-rotated"),
    (["--graticule", "nan"], "--graticule"),
    (["--graticule-color", "rgb(300,0,0)"], "--graticule-color"),
    (["--graticule-color", "nocolour"], "--graticule-color"),
])
def test_bad_options_are_usage_errors(runner, tmp_path, map_file, args, message):
    result = runner.invoke(cli, ["convert", str(map_file[0]), "-o", str(tmp_path / "o.png"), *args])
    assert result.exit_code == 2 and message in result.output


def test_lut_file_brings_its_own_graticule(runner, tmp_path, map_file):
    lut = tmp_path / "l.npy"
    assert runner.invoke(cli, ["lut", "build", "--input-size", "64x32", "--graticule", "30",
                               "-o", str(lut)]).exit_code == 0
    result = runner.invoke(cli, ["convert", str(map_file[0]), "--lut", str(lut), "--graticule", "30",
                                 "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 2 and "drop --graticule" in result.output
    out = tmp_path / "o.png"
    assert runner.invoke(cli, ["convert", str(map_file[0]), "--lut", str(lut), "-o", str(out)]).exit_code == 0
    assert (read_image(out).pixels[np.load(graticule_path(lut)).astype(bool)] == 211).all()


@pytest.mark.slow
def test_real_subprocess_with_alpha(tmp_path):
    source = tmp_path / "a.png"
    Image.fromarray(np.zeros((32, 64, 4), np.uint8)).save(source)
    out = tmp_path / "o.png"
    run = subprocess.run([sys.executable, "-m", "polewarp", "convert", str(source), "-o", str(out),
                          "--graticule", "45", "--graticule-color", "#0000ff"],
                         env=run_env(), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    pixels = read_image(out).pixels
    mask = build_lut(GeometrySpec((64, 32), graticule=45), backend="serial").graticule.astype(bool)
    assert (pixels[mask] == [0, 0, 255, 255]).all() and (pixels[~mask] == 0).all()


@pytest.mark.slow
def test_batch_draws_what_convert_draws(runner, tmp_path, map_file):
    source, _ = map_file
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    for i in range(2):
        (folder / f"m{i}.png").write_bytes(source.read_bytes())
    options = ["--graticule", "30", "--graticule-rotated", "45", "--graticule-color", "#00ff00"]
    result = runner.invoke(cli, ["batch", str(folder), "-o", str(out), "--workers", "2", *options])
    assert result.exit_code == 0, result.output
    alone = tmp_path / "alone.png"
    assert runner.invoke(cli, ["convert", str(source), "-o", str(alone), *options]).exit_code == 0
    for i in range(2):
        np.testing.assert_array_equal(read_image(out / f"m{i}.png").pixels, read_image(alone).pixels)
