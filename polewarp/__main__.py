"""python -m polewarp."""

from polewarp.cli import main

if __name__ == "__main__":
    main()
