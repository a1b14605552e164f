"""python -m polewarp."""

import _signal  # the C module: `import signal` loads enum first, a window as long as the rest
import os


def _interrupted_at_start(signum, frame):
    """Ctrl-C while the commands load (main() takes over from here): nothing to clean up yet."""
    os.write(2, b"polewarp: interrupted\n")
    os._exit(128 + signum)


_signal.signal(_signal.SIGINT, _interrupted_at_start)

from polewarp.cli import main  # noqa: E402  (after the handler: the imports take most of the start)

if __name__ == "__main__":
    main()
