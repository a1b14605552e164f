"""The names options and the environment share between the CLI and the engine, defined once.

Plain constants, with no import: the CLI builds its choices and help texts from them without
loading numba or Dask, and the engine checks its arguments against the same lists.
"""

BACKENDS = ("processes", "threads", "prange", "serial")  # how a LUT is built (--backend, with auto)
TRANSFERS = ("cache", "scatter")  # how a Dask batch's LUT reaches the workers (--lut-transfer)
ENV_SCHEDULER = "POLEWARP_SCHEDULER"  # the default --scheduler
ENV_CACHE_DIR = "POLEWARP_CACHE_DIR"  # the default --cache-dir
ENV_CACHE_MAX = "POLEWARP_CACHE_MAX"  # the default --max-cache-size
