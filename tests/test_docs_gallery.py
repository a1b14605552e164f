"""The README's gallery: every projection has its thumbnail and command, and docs/make_gallery.py
remakes the thumbnails byte for byte."""

import hashlib
import importlib.util
from pathlib import Path

import PIL
import pytest

from polewarp.engine.projections import NAMES

ROOT = Path(__file__).resolve().parents[1]


def _load_script():
    spec = importlib.util.spec_from_file_location("make_gallery", ROOT / "docs" / "make_gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gallery = _load_script()


def test_the_readme_shows_every_projection_with_its_command():
    readme = (ROOT / "README.md").read_text()
    assert gallery.markdown() in readme
    for name in NAMES:
        assert (ROOT / "docs" / "gallery" / f"{name}.jpg").is_file()
        assert f"`polewarp convert --to {name} " in readme


@pytest.mark.slow
@pytest.mark.skipif(PIL.__version__ != gallery.PILLOW_VERSION,
                    reason=f"the thumbnails are made with Pillow {gallery.PILLOW_VERSION}: another JPEG encoder "
                           "may give other bytes")
@pytest.mark.parametrize("name", ["mollweide", "orthographic", "winkel-tripel"])
def test_thumbnails_are_remade_byte_for_byte(tmp_path, name):
    (made,) = gallery.make_gallery(tmp_path, only=[name])
    committed = ROOT / "docs" / "gallery" / f"{name}.jpg"
    assert hashlib.sha256(made.read_bytes()).digest() == hashlib.sha256(committed.read_bytes()).digest()
