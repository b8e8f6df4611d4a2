"""The series' site (``make book``, docs/build_book.py): staging, and a real build checked page by page.

The build (Sphinx + myst-nb, about 15 s on the 2-core machine) runs into a temporary folder when the optional
``book`` extra is installed (``make book`` and ``make test-book`` install it); without it the build tests are
skipped with a message saying so. The link check reads every HTML file of the build: each relative ``href`` and
``src`` must name a file of the build, and each ``#fragment`` an id of its page.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))
FIGURE_PNGS = sorted((ROOT / "figures").glob("*/*.png"))
BOOK_MODULES = ("sphinx", "myst_nb", "sphinxcontrib.bibtex", "sphinx_book_theme")
# myst-parser 5.2 still reaches Sphinx's deprecated ``.app``; the build runs in this process, so its warnings land here.
pytestmark = pytest.mark.filterwarnings("ignore:.*Check CHANGES for Sphinx API modifications")


def _load_build_book() -> ModuleType:
    """docs/build_book.py as a module (docs/ is no package)."""
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "docs" / "build_book.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_book"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


build_book = _load_build_book()


class _Links(HTMLParser):
    """Collects a page's ``href``/``src`` values and its element ids."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if value is None:
                continue
            if key in ("href", "src"):
                self.links.append(value)
            elif key in ("id", "name"):
                self.ids.add(value)


def _parse(page: Path) -> _Links:
    """The links and ids of one HTML file."""
    parser = _Links()
    parser.feed(page.read_text(errors="replace"))
    return parser


def broken_links(html_root: Path) -> list[str]:
    """Every relative link or image of the HTML files under ``html_root`` whose file or ``#id`` does not exist."""
    pages = sorted(p for p in html_root.rglob("*.html") if "_static" not in p.relative_to(html_root).parts)
    parsed = {page.resolve(): _parse(page) for page in pages}
    broken = []
    for page, links in parsed.items():
        for link in links.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(html_root.resolve())}: {link} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(html_root.resolve())}: {link} (no such id)")
    return broken


def external_resources(html_root: Path) -> list[str]:
    """Scripts, style sheets and images that a page would load from the network (the site must read offline)."""
    pattern = re.compile(r'<(?:script|img|iframe)[^>]*\ssrc="(?:https?:)?//[^"]*"|<link[^>]*rel="stylesheet"[^>]*'
                         r'href="(?:https?:)?//[^"]*"')
    return [f"{page.name}: {m.group(0)[:120]}" for page in sorted(html_root.rglob("*.html"))
            for m in pattern.finditer(page.read_text(errors="replace"))]


# ---------------------------------------------------------------- staging (no Sphinx needed)

def _notebook(cells: list[dict]) -> dict:
    """A minimal nbformat-4 notebook of ``cells``."""
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _code(source: str, outputs: list[dict], cell_id: str) -> dict:
    """A code cell with stored ``outputs``."""
    return {"cell_type": "code", "id": cell_id, "metadata": {}, "execution_count": 1, "source": source,
            "outputs": outputs}


IMAGE = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
         "metadata": {}}
TABLE = {"output_type": "display_data", "data": {"text/html": "<table></table>", "text/plain": "t"}, "metadata": {}}


def test_a_single_figure_cell_becomes_a_captioned_figure_apart_from_its_table(tmp_path: Path) -> None:
    nb = _notebook([
        {"cell_type": "markdown", "id": "m0", "metadata": {}, "source": "# 09 · Test\n\nWhat this asks.\n\nMore."},
        {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": "## 000.X: the section"},
        _code('save_table(t, NB, "000_X_table")\nsave_figure(fig, NB, "000_X_curves")', [IMAGE, TABLE], "c1"),
        _code('save_figure(a, NB, "one")\nsave_figure(b, NB, "two")', [IMAGE, IMAGE], "c2"),
    ])
    src = tmp_path / "09_test.ipynb"
    src.write_text(json.dumps(nb))
    info = build_book.stage_notebook(src, tmp_path / "staged.ipynb")
    cells = json.loads((tmp_path / "staged.ipynb").read_text())["cells"]

    assert (info.title, info.intro) == ("09 · Test", "What this asks.")
    assert info.figure_captions == {"000_X_curves": "000.X: the section", "one": "000.X: the section",
                                    "two": "000.X: the section"}
    assert info.table_sections == {"000_X_table": "000.X: the section"}
    assert info.figure_labels == {"000_X_curves": "fig-09_test-000_x_curves"}  # two figures in one cell: no caption
    figure_cell, table_cell, two_figures = cells[2], cells[3], cells[4]
    assert figure_cell["outputs"] == [IMAGE] and figure_cell["source"] == nb["cells"][2]["source"]
    assert figure_cell["metadata"]["mystnb"]["figure"] == {
        "caption": "000.X: the section (exported as `000_X_curves.png`)", "name": "fig-09_test-000_x_curves"}
    assert table_cell["outputs"] == [TABLE] and table_cell["metadata"] == {"tags": ["remove-input"]}
    assert table_cell["source"].strip() and table_cell["id"] != figure_cell["id"]  # myst-nb skips empty cells
    assert two_figures == nb["cells"][3]


def test_a_caption_in_the_notebook_wins(tmp_path: Path) -> None:
    cell = _code('save_figure(fig, NB, "000_X_curves")', [IMAGE], "c1")
    cell["metadata"] = {"mystnb": {"figure": {"caption": "Curves of **X**."}}}
    nb = _notebook([{"cell_type": "markdown", "id": "m0", "metadata": {}, "source": "# 09 · Test\n\nWhy."}, cell])
    src = tmp_path / "09_test.ipynb"
    src.write_text(json.dumps(nb))
    info = build_book.stage_notebook(src, tmp_path / "staged.ipynb")
    staged = json.loads((tmp_path / "staged.ipynb").read_text())["cells"][1]
    assert staged["metadata"]["mystnb"]["figure"] == {"caption": "Curves of **X**.", "name": "fig-09_test-000_x_curves"}
    assert info.figure_captions["000_X_curves"] == "Curves of **X**."
    assert json.loads(src.read_text()) == nb  # the notebook itself is left as it is


def test_the_figure_index_lists_every_png_and_table(tmp_path: Path) -> None:
    folder = tmp_path / "09_test"
    folder.mkdir()
    for name in ("a.png", "a.pdf", "t.csv", "t.md", "t.tex", "u.csv"):
        (folder / name).write_text("x")
    info = build_book.NotebookInfo("09_test", "09 · Test", "", {"a": "Section A"}, {"a": "fig-09_test-a"}, {})
    page = build_book.figures_page([info], tmp_path)
    assert "```{figure} figures/09_test/a.png" in page and "Section A" in page
    assert "{ref}`notebook 09_test <fig-09_test-a>`" in page and "{download}`PDF <figures/09_test/a.pdf>`" in page
    assert "{download}`tex <figures/09_test/t.tex>`" in page and "`u`" in page


def test_the_link_check_finds_a_missing_file_and_a_missing_id(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<p id="here"><a href="b.html#there">b</a><img src="_images/x.png">'
                                     '<a href="a.html#here">a</a><a href="https://example.org/">out</a></p>')
    (tmp_path / "b.html").write_text('<p id="elsewhere"></p>')
    assert broken_links(tmp_path) == ["a.html: b.html#there (no such id)", "a.html: _images/x.png (no such file)"]
    (tmp_path / "c.html").write_text('<script src="https://cdn.example.org/x.js"></script>')
    assert len(external_resources(tmp_path)) == 1


# ---------------------------------------------------------------- the real build

@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built once for this module into a temporary folder; skipped without the `book` extra."""
    missing = [m for m in BOOK_MODULES if importlib.util.find_spec(m.split(".")[0]) is None]
    if missing:
        pytest.skip(f"the site is not built: {', '.join(missing)} not installed (the optional `book` extra; "
                    "`make test-book` installs it and runs this test)")
    return build_book.build(tmp_path_factory.mktemp("book"), quiet=True)


def test_every_notebook_has_its_page(site: Path) -> None:
    assert NOTEBOOKS
    for nb in NOTEBOOKS:
        page = site / "notebooks" / f"{nb.stem}.html"
        assert page.exists(), f"no page for {nb.name}"
        title, _ = build_book._intro(json.loads(nb.read_text())["cells"])
        assert title in html.unescape(page.read_text()).replace("\u2019", "'"), f"{nb.name}: no title {title!r}"


def test_the_index_pages_exist_and_link_every_notebook(site: Path) -> None:
    for name in ("index.html", "figures.html", "references.html", "genindex.html", "search.html"):
        assert (site / name).exists(), f"no {name}"
    landing = (site / "index.html").read_text()
    for nb in NOTEBOOKS:
        assert f'href="notebooks/{nb.stem}.html"' in landing, f"the landing page does not link {nb.stem}"


def test_the_figure_index_shows_every_exported_png(site: Path) -> None:
    page = (site / "figures.html").read_text()
    thumbs = re.findall(r'<figure class="[^"]*fmnist-thumb[^"]*"[^>]*>\s*(?:<a[^>]*>)?\s*<img[^>]*src="([^"]+)"', page)
    shown = {Path(unquote(src)).name for src in thumbs}
    assert FIGURE_PNGS
    missing = [f"{png.parent.name}/{png.name}" for png in FIGURE_PNGS if png.name not in shown]
    assert not missing, f"not shown in the figure index: {missing}"


def test_the_bibliography_names_the_reports_and_the_sources(site: Path) -> None:
    page = (site / "references.html").read_text()
    for words in ("Fashion-MNIST", "Assignment 3: Classification of Image Data",
                  "Fashion MNIST Classification using MLP",
                  "Multi-Layer Neural Network Classification of Fashion MNIST Dataset", "Proimakis",
                  "Training neural networks with local error signals", "Random erasing data augmentation",
                  "fashion-classifier"):
        assert words.lower() in page.lower(), f"the references page lacks {words!r}"


def test_no_broken_internal_link_or_image(site: Path) -> None:
    broken = broken_links(site)
    assert not broken, f"{len(broken)} broken: {broken[:20]}"


def test_nothing_is_loaded_from_the_network(site: Path) -> None:
    assert not external_resources(site)
