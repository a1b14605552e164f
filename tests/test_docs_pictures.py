"""The README's pictures: docs/make_pictures.py remakes them byte for byte, shows the commands the
README prints, and puts its labels where the map really shows those places."""

import hashlib
import importlib.util
import re
from pathlib import Path

import PIL
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _load_script():
    spec = importlib.util.spec_from_file_location("make_pictures", DOCS / "make_pictures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pictures = _load_script()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.skipif(PIL.__version__ != pictures.PILLOW_VERSION,
                    reason=f"the pictures are made with Pillow {pictures.PILLOW_VERSION}, this is Pillow "
                           f"{PIL.__version__}: its JPEG encoder and font rasteriser may give other bytes")
def test_pictures_are_remade_byte_for_byte(tmp_path):
    made = pictures.make_pictures(tmp_path)
    assert [path.name for path in made] == list(pictures.PICTURES)
    for path in made:
        assert _sha256(path) == _sha256(DOCS / path.name), f"docs/{path.name} is not what its commands make"


def test_readme_prints_every_command_and_shows_every_picture():
    readme = (ROOT / "README.md").read_text()
    commands = [command for _, command in pictures.COMMANDS] + [command for command, _, _ in pictures.PANELS]
    for command in commands:
        assert f"`{command}`" in readme, command
    shown = set(re.findall(r"\]\(docs/([\w-]+\.jpg)\)", readme))
    assert shown == set(pictures.PICTURES)
    assert {path.name for path in DOCS.glob("*.jpg")} == set(pictures.PICTURES)


def _source(table, at) -> tuple[float, float]:
    """The (lat, lon) in degrees of the input pixel a 2048x1024 equirectangular LUT reads at ``at``."""
    row, column = table[int(at[1]), int(at[0])]
    return 90 - (row + 0.5) * 180 / 1024, (column + 0.5) * 360 / 2048 - 180


@pytest.mark.parametrize("panel", pictures.PANELS, ids=lambda panel: panel[1])
def test_labels_land_where_the_lut_puts_those_places(panel):
    """The labelled centre is the output's middle and shows --center; the pixels labelled North
    and South Pole read the input within a degree of those poles."""
    import polewarp

    _, _, geometry = panel
    spec = polewarp.GeometrySpec(input_size=(2048, 1024), output_size=(1024, 512), **geometry)
    table = polewarp.build_lut(spec, backend="serial").array
    found = pictures.marks(geometry)
    assert found["centre"] == pytest.approx((512, 256))
    assert _source(table, found["centre"]) == pytest.approx(geometry["center"], abs=1)
    assert _source(table, found["North Pole"])[0] > 89
    assert _source(table, found["South Pole"])[0] < -89
