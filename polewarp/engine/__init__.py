"""The engine: geometry, kernels, LUT builds, gather, cache and I/O; no click here."""
