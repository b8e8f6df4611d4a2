"""Build the series as a static HTML site (``make book``): Sphinx + myst-nb, notebooks rendered, never executed.

The sources are staged into ``<out>/src`` first, so nothing is written into ``docs/`` or ``notebooks/``:

- ``docs/`` (``conf.py``, the Markdown pages, ``references.bib``, ``_static/``) as it is;
- every ``notebooks/*.ipynb`` with its stored outputs, a badge image from the network (the "Open in Colab" badge)
  as a plain link, so that the site loads nothing from outside; a code cell that saves exactly one figure
  (``save_figure(fig, NB, "name")``) and shows exactly one image gets that image as a captioned, labelled figure
  (the caption is the cell's own ``mystnb.figure.caption`` metadata where the notebook gives one, else the section
  heading above the cell and the export's name), split off from the cell's other
  outputs so that the caption belongs to the image alone; the committed notebooks are left as they are;
- ``figures/*/`` (PNGs, PDFs and tables) and the generated pages ``notebook_list.md`` (the landing page's list)
  and ``figures.md`` (every exported figure as a thumbnail, every table with its files);
- MathJax 3 (``tex-svg.js`` and the TeX extensions it loads) from the ``django-static-mathjax`` package, which
  holds MathJax's own files and needs no Django, so that the formulas render without a network; SVG output needs
  no web fonts, which browsers refuse to load from ``file://`` pages.

Then ``sphinx-build -b html <out>/src <out>/html``. ``python docs/build_book.py [OUT]``; OUT defaults to
``_build/book``.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NOTEBOOKS = ROOT / "notebooks"
FIGURES = ROOT / "figures"
DEFAULT_OUT = ROOT / "_build" / "book"
DOC_SOURCES = ("conf.py", "index.md", "references.md", "references.bib", "_static")
TABLE_SUFFIXES = (".csv", ".md", ".tex")
THUMB_WIDTH = "260px"
CONTINUED = "# the outputs of the cell above, continued"
MATHJAX_PARTS = ("input", "ui", "a11y")  # what tex-svg.js loads on demand (TeX extensions, the menu, assistive MML)

_SAVE_FIGURE = re.compile(r'save_figure\(\s*\w+\s*,\s*\w+\s*,\s*"([^"]+)"')
_SAVE_TABLE = re.compile(r'save_table\(\s*[^,]+,\s*\w+\s*,\s*"([^"]+)"')
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
# A linked badge image from the network, [![alt](https://...)](target): shown as the plain link [alt](target).
_REMOTE_BADGE = re.compile(r"\[!\[([^\]]*)\]\(https?://[^)]*\)\]\(([^)]*)\)")


@dataclass
class NotebookInfo:
    """What the site needs to know of one notebook: its title, introduction and where it shows its exports."""

    stem: str
    title: str
    intro: str
    figure_captions: dict[str, str] = field(default_factory=dict)  # export name -> caption (section heading)
    figure_labels: dict[str, str] = field(default_factory=dict)  # export name -> label of the captioned figure
    table_sections: dict[str, str] = field(default_factory=dict)  # export name -> section heading


def figure_label(stem: str, name: str) -> str:
    """The Sphinx label of the captioned figure ``name`` in notebook ``stem`` (lower case, as docutils keeps it)."""
    return f"fig-{stem}-{name}".lower()


def _source(cell: dict) -> str:
    """A cell's source as one string (nbformat allows a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _is_image(output: dict) -> bool:
    """Whether a stored output is a displayed PNG image."""
    return output.get("output_type") in ("display_data", "execute_result") and "image/png" in output.get("data", {})


def _headings(markdown: str) -> list[str]:
    """The text of every Markdown heading in ``markdown``, in order."""
    return [m.group(1) for line in markdown.splitlines() if (m := _HEADING.match(line))]


def _intro(cells: list[dict]) -> tuple[str, str]:
    """The notebook's title (its first heading, without the number) and the first paragraph after it."""
    first = next(c for c in cells if c["cell_type"] == "markdown" and _source(c).lstrip().startswith("# "))
    text = _source(first).strip()
    heading, _, body = text.partition("\n")
    title = heading.lstrip("#").strip()
    paragraph = " ".join(body.strip().split("\n\n", 1)[0].split())
    return title, paragraph[:-1] + "." if paragraph.endswith(":") else paragraph


def _split_cell(cell: dict, image_at: int, caption: str, label: str) -> list[dict]:
    """The cell as up to three cells: its source with the outputs before the image, the image as a captioned
    figure, and the outputs after it (the last two without their input), so that the caption wraps the image alone."""
    outputs = cell["outputs"]
    before, image, after = outputs[:image_at], outputs[image_at], outputs[image_at + 1:]
    figure = {"mystnb": {"figure": {"caption": caption, "name": label}}}
    hidden = {"tags": ["remove-input"]}

    def part(outs: list[dict], meta: dict, first: bool) -> dict:
        """A copy of the cell holding ``outs``: with its source if ``first``, else hidden, with a fresh id."""
        new = copy.deepcopy(cell)
        new["outputs"] = outs
        if not first:
            new["source"] = CONTINUED  # hidden (remove-input); myst-nb drops a cell whose source is empty
            new["execution_count"] = None
            if "id" in cell:
                new["id"] = f"{cell['id']}-{len(parts)}"
        new["metadata"] = {**(cell.get("metadata") or {}), **meta} if first else meta
        return new

    parts: list[dict] = []
    if before:
        parts.append(part(before, {}, True))
        parts.append(part([image], figure | hidden, False))
    else:
        parts.append(part([image], figure, True))
    if after:
        parts.append(part(after, hidden, False))
    return parts


def stage_notebook(path: Path, dest: Path) -> NotebookInfo:
    """Copy notebook ``path`` to ``dest`` with its single-figure cells captioned; return what the index needs."""
    nb = json.loads(path.read_text())
    title, intro = _intro(nb["cells"])
    info = NotebookInfo(path.stem, title, intro)
    section = title
    cells: list[dict] = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            section = (_headings(_source(cell)) or [section])[-1]
            cell = {**cell, "source": _REMOTE_BADGE.sub(r"[\1](\2)", _source(cell))}
        if cell["cell_type"] != "code":
            cells.append(cell)
            continue
        source = _source(cell)
        for name in _SAVE_TABLE.findall(source):
            info.table_sections[name] = section
        names = _SAVE_FIGURE.findall(source)
        for name in names:
            info.figure_captions[name] = section
        images = [i for i, o in enumerate(cell.get("outputs", [])) if _is_image(o)]
        if len(names) == 1 and len(images) == 1:
            own = ((cell.get("metadata") or {}).get("mystnb") or {}).get("figure") or {}  # a caption in the notebook
            caption = own.get("caption") or f"{section} (exported as `{names[0]}.png`)"
            label = str(own.get("name") or figure_label(path.stem, names[0])).lower()
            info.figure_labels[names[0]] = label
            if own.get("caption"):
                info.figure_captions[names[0]] = own["caption"]
            cells.extend(_split_cell(cell, images[0], caption, label))
        else:
            cells.append(cell)
    nb["cells"] = cells
    dest.write_text(json.dumps(nb, ensure_ascii=False, indent=1))
    return info


def _notebook_link(stem: str) -> str:
    """A MyST link to the page of notebook ``stem`` (from a page at the site's root)."""
    return f"[{stem}](notebooks/{stem}.ipynb)"


def notebook_list(infos: list[NotebookInfo]) -> str:
    """The landing page's list of the notebooks in order: title, link and the notebook's own first paragraph."""
    lines = []
    for info in infos:
        lines += [f"1. **[{info.title}](notebooks/{info.stem}.ipynb)**: {info.intro}", ""]
    return "\n".join(lines)


def _sentence(text: str) -> str:
    """``text`` ending with a full stop, unless it ends with its own punctuation."""
    return text if text.endswith((".", "?", "!")) else f"{text}."


def _figure_entry(folder: str, png: Path, info: NotebookInfo | None) -> list[str]:
    """The figure index's thumbnail of ``png``: its name, caption, where the notebook shows it, its files."""
    name = png.stem
    caption = (info.figure_captions.get(name) if info else None) or name
    if info and name in info.figure_labels:
        where = f"{{ref}}`notebook {folder} <{info.figure_labels[name]}>`"
    elif info:
        where = f"notebook {_notebook_link(folder)}"
    else:
        where = f"`{folder}`"
    files = [f"{{download}}`PNG <figures/{folder}/{png.name}>`"]
    pdf = png.with_suffix(".pdf")
    if pdf.exists():
        files.append(f"{{download}}`PDF <figures/{folder}/{pdf.name}>`")
    return [
        f"```{{figure}} figures/{folder}/{png.name}",
        f":width: {THUMB_WIDTH}",
        ":figclass: fmnist-thumb",
        "",
        f"**`{name}`**: {_sentence(caption)} In {where}; {', '.join(files)}.",
        "```",
        "",
    ]


def _table_rows(folder: Path, info: NotebookInfo | None) -> list[str]:
    """The figure index's table of the tables in ``folder``: name, section, a link to each exported file."""
    files = sorted(folder.iterdir())
    stems = sorted({f.stem for f in files if f.suffix in TABLE_SUFFIXES})
    if not stems:
        return []
    rows = ["| table | section | files |", "|---|---|---|"]
    for stem in stems:
        section = (info.table_sections.get(stem) if info else None) or ""
        links = ", ".join(
            f"{{download}}`{suffix[1:]} <figures/{folder.name}/{stem}{suffix}>`"
            for suffix in TABLE_SUFFIXES if (folder / f"{stem}{suffix}").exists()
        )
        rows.append(f"| `{stem}` | {section.replace('|', '/')} | {links} |")
    return [*rows, ""]


def figures_page(infos: list[NotebookInfo], figures: Path = FIGURES) -> str:
    """The figure and table index: every PNG of ``figures/*/`` as a captioned thumbnail, every table's files."""
    by_stem = {info.stem: info for info in infos}
    lines = [
        "# Figures and tables",
        "",
        "Every figure and table the notebooks export to `figures/<notebook>/`, generated from those files when the",
        "site is built. A figure's caption is the notebook section that draws it; click a thumbnail for the full",
        "image. Each table is exported as CSV, Markdown and LaTeX.",
        "",
    ]
    for folder in sorted(p for p in figures.iterdir() if p.is_dir()):
        info = by_stem.get(folder.name)
        files = sorted(folder.iterdir())
        pngs = [f for f in files if f.suffix == ".png"]
        lines += [f"## {info.title if info else folder.name}", ""]
        if info:
            lines += [f"Exported by notebook {_notebook_link(folder.name)} to `figures/{folder.name}/`.", ""]
        if pngs:
            lines += ["### Figures", ""]
            for png in pngs:
                lines += _figure_entry(folder.name, png, info)
            lines += ['<div class="fmnist-clear"></div>', ""]
        table = _table_rows(folder, info)
        if table:
            lines += ["### Tables", "", *table]
    return "\n".join(lines)


def stage(out: Path) -> Path:
    """Lay out the Sphinx sources in ``out/src`` (replacing what was there) and return that folder."""
    src = out / "src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    for name in DOC_SOURCES:
        item = DOCS / name
        if item.is_dir():
            shutil.copytree(item, src / name)
        else:
            shutil.copy2(item, src / name)
    (src / "notebooks").mkdir()
    infos = [stage_notebook(nb, src / "notebooks" / nb.name)
             for nb in sorted(NOTEBOOKS.glob("[0-9][0-9]*_*.ipynb"))]
    shutil.copytree(FIGURES, src / "figures")
    (src / "notebook_list.md").write_text(notebook_list(infos))
    (src / "figures.md").write_text(figures_page(infos))
    mathjax = _mathjax_dir()
    if mathjax is not None:
        dest = src / "_static" / "mathjax"
        dest.mkdir(parents=True)
        shutil.copy2(mathjax / "tex-svg.js", dest)
        for part in MATHJAX_PARTS:
            shutil.copytree(mathjax / part, dest / part)
    return src


def _mathjax_dir() -> Path | None:
    """MathJax 3's ``es5`` folder as the ``django-static-mathjax`` package ships it, or None without it."""
    try:
        import mathjax
    except ImportError:
        return None
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    return es5 if (es5 / "tex-svg.js").exists() else None


def build(out: Path = DEFAULT_OUT, quiet: bool = False) -> Path:
    """Stage the sources and build the HTML site into ``out/html``; return that folder.

    Raises RuntimeError when Sphinx exits non-zero; Sphinx warnings are errors (``-W``), so a broken reference,
    a missing image or an unknown citation fails the build.
    """
    from sphinx.cmd.build import build_main

    src = stage(out)
    html = out / "html"
    for stale in (html, out / "jupyter_execute"):  # a fresh site: nothing left from an earlier build
        if stale.exists():
            shutil.rmtree(stale)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    args = ["-b", "html", "-W", "--keep-going", "-E", "-D", f"release={version}", "-D", f"version={version}",
            str(src), str(html)]
    if quiet:
        args.insert(0, "-q")
    status = build_main(args)
    if status != 0:
        raise RuntimeError(f"sphinx-build failed with status {status} (sources staged in {src})")
    return html


def main(argv: list[str]) -> int:
    """``python docs/build_book.py [OUT]``: build the site and say where its landing page is."""
    out = Path(argv[0]).resolve() if argv else DEFAULT_OUT
    start = time.perf_counter()
    html = build(out)
    print(f"site built in {time.perf_counter() - start:.0f} s: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
