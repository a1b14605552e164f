"""engine/drag.py: the solved view shows the grabbed point under the pointer, for random views,
anchors and pointers, checked with the projection's forward (an independent path from the inverse)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polewarp.engine import drag
from polewarp.engine.geometry import Geometry, aspect_frame

INPUT = (256, 128)
SIZES = {"mercator": (128, 124), "equirectangular": (128, 64), "mollweide": (128, 64), "orthographic": (96, 96)}
unit = st.floats(0.01, 0.99)


@pytest.mark.slow
@settings(deadline=None, max_examples=60)
@given(to=st.sampled_from(sorted(SIZES)), lat=st.floats(-89, 89), lon=st.floats(-180, 180),
       heading=st.floats(0, 360), a=st.tuples(unit, unit), b=st.tuples(unit, unit))
def test_the_grabbed_point_lands_under_the_pointer(to, lat, lon, heading, a, b):
    spec = Geometry.of(to=to, center=(lat, lon), heading=heading).spec(INPUT, SIZES[to])
    width, height = spec.output_size
    anchor, pointer = (a[0] * width, a[1] * height), (b[0] * width, b[1] * height)
    grabbed = drag.geographic(spec, anchor)
    solved = drag.solve_drag(spec, anchor, pointer)
    if grabbed is None or drag.own_vector(spec, pointer) is None:
        assert solved is None  # off the outline: no drag
        return
    landed = drag.pixel_of(solved.spec(INPUT, spec.output_size), grabbed)
    miss = abs(landed[0] - pointer[0]) % width
    assert min(miss, width - miss) < 1e-4 and abs(landed[1] - pointer[1]) < 1e-4  # the issue asks 2 px


def test_a_drag_along_the_equator_of_a_north_up_map_turns_the_longitude():
    spec = Geometry.of(to="equirectangular", heading=0).spec(INPUT, (128, 64))
    solved = drag.solve_drag(spec, (64.0, 32.0), (80.0, 32.0))
    assert solved.center == pytest.approx((0.0, -45.0)) and solved.heading == pytest.approx(0.0)


def test_no_move_keeps_the_view_and_the_frame_matches_the_geometry():
    spec = Geometry.of(to="orthographic", center=(30, 40), heading=75).spec(INPUT, (96, 96))
    solved = drag.solve_drag(spec, (20.0, 50.0), (20.0, 50.0))
    assert solved.center == pytest.approx(spec.center) and solved.heading == pytest.approx(75.0)
    centre = np.array(aspect_frame(spec.center, spec.heading)[0])
    assert drag.geographic(spec, (48.0, 48.0)) == pytest.approx(centre)
    assert math.isclose(np.linalg.norm(drag.geographic(spec, (10.0, 70.0))), 1.0)
