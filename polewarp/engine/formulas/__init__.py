"""Each projection's spherical formulas (PROJ's, on the unit sphere), as inline numba functions.

For a projection named ``name`` (its registry name with ``-`` as ``_``), its family's module has:

- ``name_forward(lam, phi, ux, uy, uz, p) -> (x, y)``: longitude and latitude in radians and the
  same point as a unit vector ((1, 0, 0) at 0,0; (0, 1, 0) at 0,90E; (0, 0, 1) the north pole),
  so each formula takes whichever is cheaper; ``(nan, nan)`` where the point has no image;
- ``name_inverse(x, y, p) -> (ux, uy, uz)``: the unit vector of a point of the plane, or
  ``(nan, nan, nan)`` outside the projection's domain (its outline);

where ``p`` is the float64 array of the projection's parameters (``projections.Projection.params``).
Both are pure scalar arithmetic, so that the row loops that inline them can vectorise.
"""
