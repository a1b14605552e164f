"""The command-line interface: thin click commands over the engine."""

try:
    from .main import cli, main
except KeyboardInterrupt:
    # Ctrl-C while click, numpy and the commands load, before main() answers signals itself:
    # nothing to clean up yet, so one line and the usual exit code instead of a traceback.
    import sys

    sys.stderr.write("polewarp: interrupted\n")
    raise SystemExit(130) from None

__all__ = ["cli", "main"]
