"""Every exported PNG under figures/ fits the full width of a page: at most 7.2 in wide at the dpi it carries."""

from pathlib import Path

import pytest
from PIL import Image

from fmnist_utils.report.figures import DPI

ROOT = Path(__file__).resolve().parent.parent
PNGS = sorted((ROOT / "figures").glob("*/*.png"))
#: The widest an exported figure may be, in inches: the 7 in of ``figures.MAX_WIDTH`` and a little for rounding.
MAX_PNG_INCHES = 7.2


def png_inches(path: Path) -> tuple[float, float]:
    """Width and height of a PNG in inches, at the dpi of its pHYs chunk (``savefig`` writes it), else ``DPI``."""
    with Image.open(path) as image:
        dpi = image.info.get("dpi", (DPI, DPI))
        return image.width / dpi[0], image.height / dpi[1]


def test_there_are_figures():
    assert len(PNGS) > 10


@pytest.mark.parametrize("png", PNGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_exported_png_is_at_most_7_2_inches_wide(png):
    width, _ = png_inches(png)
    assert width <= MAX_PNG_INCHES, f"{png.relative_to(ROOT)} is {width:.2f} in wide (at most {MAX_PNG_INCHES})"
