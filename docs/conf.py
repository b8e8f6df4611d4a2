"""Sphinx configuration of the series' site (``make book``; see ``docs/build_book.py``, which stages the sources).

The notebooks are rendered from their stored outputs and never executed (``nb_execution_mode = "off"``);
everything the pages load is bundled with the site (theme assets, MathJax 2), so it reads offline.
"""

project = "fmnist-report"
author = "the fmnist-report authors"
copyright = "2026, the fmnist-report authors"
# version and release come from pyproject.toml through build_book.py (-D release=...).

extensions = ["myst_nb", "sphinxcontrib.bibtex"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "figures/**", "notebook_list.md"]
# Notebook 03b goes from its title to ### headings (the notebooks are rendered as they are).
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

# Notebooks: stored outputs only.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# Bibliography.
bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"

# Theme, offline: sphinx-book-theme bundles its assets; no repository buttons, no launch buttons.
html_theme = "sphinx_book_theme"
html_title = "fmnist-report"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
}
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = False

# MathJax 3 with SVG output (no web fonts, so it also typesets from file://), copied into _static/mathjax by
# build_book.py from the django-static-mathjax package (MathJax's own files; no CDN). myst-parser sets
# mathjax3_config's processHtmlClass for its math.
mathjax_path = "mathjax/tex-svg.js"
