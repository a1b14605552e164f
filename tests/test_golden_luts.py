"""Today's Mercator and equirectangular LUTs, pinned by checksum: every later change to the
kernels (new projections, new aspects) must leave them bit for bit as they are."""

import hashlib

import numpy as np
import pytest

from polewarp import GeometrySpec, build_lut

CASES = {
    "default": {},
    "mercator-input": {"source": "mercator"},
    "eqc-output": {"to": "equirectangular"},
    "oblique": {"center": (40.0, -30.0), "heading": 20.0},
}

SHA256 = {
    ('default', (720, 360), 'nearest'): "c2a53b7b596f5a9cef5139dd7704ecd990da9b901d242ae9eb9ed89ae462df2c",
    ('default', (720, 360), 'bilinear'): "3bea55bd0157633e4b26a9af6d3036ae34e30d77871a472cbb42ed7e693970fd",
    ('default', (2048, 1024), 'nearest'): "3b5353106ecb7c7a7aa16c9a37d6ce195360571eff1d6dc3e2520d505c98b0eb",
    ('default', (2048, 1024), 'bilinear'): "5953396004899edc007e860b1a322cc26be8072b2e251a7acb3c3f55a271f62e",
    ('mercator-input', (720, 360), 'nearest'): "c9e54038cd9f83e5aad9c335340106bca678c9d73b3d09e8df1bccaf21103ad8",
    ('mercator-input', (720, 360), 'bilinear'): "306f5e5049889fb661e44fc6dd9271ed42b4e0cbc9ecad8beceac7df0619d240",
    ('mercator-input', (2048, 1024), 'nearest'): "a064d70a2146321f14a798de809e2b2f8b3c9b890de787229d1662a7cb17569c",
    ('mercator-input', (2048, 1024), 'bilinear'): "0e638a6f639c547440f6196402812c87fef1182a60abca0f7db3f0f99de15ed3",
    ("eqc-output", (720, 360), 'nearest'): "ba473f558104ed5b0248345e733337a888c266d8c3cd9f252d85dfa312a986c5",
    ("eqc-output", (720, 360), 'bilinear'): "504097f7b616c73958f0224682a2b0514f1ad6d0947f8a689b0c61cfca635aba",
    ("eqc-output", (2048, 1024), 'nearest'): "d36a1704debcd0b0e5c8eeb2a82dd48f0401d9757810ea08e7c1bf94ad1be7e1",
    ("eqc-output", (2048, 1024), 'bilinear'): "e9860e26cc7040d54ca9d941e22e52f883e9469a441d3821418f47f4ef7f7c1f",
    ('oblique', (720, 360), 'nearest'): "3ab76dc4d7055ec86e3786caa332ddead5f56768f85fa4a2a4d40e1c4f76c690",
    ('oblique', (720, 360), 'bilinear'): "417467c3e907ca54005633efb2ea78010cb81d6a6623bc47eb87acbccc46a7f0",
    ('oblique', (2048, 1024), 'nearest'): "c05982c41ba558f0312c2d860a8c9804d8aac1cbb5277a123e19be620edef50e",
    ('oblique', (2048, 1024), 'bilinear'): "1599e24012cfea3d08a74f359a1914ac37a6586c15405da9768728e971db1dc4",
}


def digest(array: np.ndarray) -> str:
    """sha256 of the array's bytes in little-endian order, whatever the machine."""
    array = np.ascontiguousarray(array)
    return hashlib.sha256(array.astype(array.dtype.newbyteorder("<")).tobytes()).hexdigest()


@pytest.mark.parametrize(("case", "size", "resample"), sorted(SHA256))
def test_lut_is_unchanged(case, size, resample):
    lut = build_lut(GeometrySpec(size, resample=resample, **CASES[case]), backend="serial")
    assert digest(lut.array) == SHA256[case, size, resample]
