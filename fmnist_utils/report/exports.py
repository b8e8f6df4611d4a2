"""Compare a fresh export of figures and tables with the committed ones.

``make test`` runs the notebooks with ``FMNIST_FIGURES_DIR`` pointing at a temporary folder, then calls
``compare_exports(temporary, figures_dir())``. nbval compares text outputs only, so this is what guards figures:

- text exports (``.csv``, ``.md``, ``.tex``) must match byte for byte;
- PNGs must have the same size, and at most ``PNG_TOLERANCE`` of their pixels may differ (by any amount): an
  anti-aliased line end can move by a pixel between CPUs whose NumPy kernels round differently, a changed curve,
  label or panel moves thousands;
- PDFs must hold the same content streams, with every number within ``PDF_TOLERANCE`` points (1/72 in).
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

#: Largest share of a PNG's pixels that may differ between an export and its committed twin (1 in 10,000).
PNG_TOLERANCE = 1e-4
#: Largest difference, in PDF points, between a number of an exported PDF and the committed one's.
PDF_TOLERANCE = 0.1

TEXT_SUFFIXES = {".csv", ".md", ".tex"}
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_NUMBER = re.compile(rb"-?\d+\.\d*|-?\.\d+|-?\d+")


def png_difference(exported: Path, committed: Path) -> str | None:
    """Why two PNGs differ beyond the tolerance, or None."""
    a = np.asarray(Image.open(exported).convert("RGBA"), dtype=np.int16)
    b = np.asarray(Image.open(committed).convert("RGBA"), dtype=np.int16)
    if a.shape != b.shape:
        return f"size {a.shape[1]}x{a.shape[0]} px, committed {b.shape[1]}x{b.shape[0]} px"
    share = float((a != b).any(axis=2).mean())
    if share > PNG_TOLERANCE:
        return f"{share:.3%} of pixels differ (tolerance {PNG_TOLERANCE:.2%})"
    return None


def _pdf_streams(path: Path) -> list[bytes]:
    streams = []
    for raw in _STREAM.findall(path.read_bytes()):
        try:
            streams.append(zlib.decompress(raw))
        except zlib.error:  # an uncompressed stream
            streams.append(raw)
    return streams


def pdf_difference(exported: Path, committed: Path) -> str | None:
    """Why two PDFs differ beyond the tolerance (same streams, numbers within ``PDF_TOLERANCE``), or None."""
    a, b = _pdf_streams(exported), _pdf_streams(committed)
    if len(a) != len(b):
        return f"{len(a)} content streams, committed {len(b)}"
    for index, (sa, sb) in enumerate(zip(a, b)):
        if sa == sb:
            continue
        if _NUMBER.sub(b"#", sa) != _NUMBER.sub(b"#", sb):
            return f"stream {index} differs in more than its numbers"
        na = np.array([float(x) for x in _NUMBER.findall(sa)])
        nb = np.array([float(x) for x in _NUMBER.findall(sb)])
        worst = float(np.abs(na - nb).max())
        if worst > PDF_TOLERANCE:
            return f"stream {index}: a number differs by {worst:.3g} (tolerance {PDF_TOLERANCE} pt)"
    return None


def export_difference(exported: Path, committed: Path) -> str | None:
    """Why an exported file differs from its committed twin, or None when they agree."""
    suffix = exported.suffix.lower()
    if suffix == ".png":
        return png_difference(exported, committed)
    if suffix == ".pdf":
        return pdf_difference(exported, committed)
    if exported.read_bytes() != committed.read_bytes():
        return "text differs" if suffix in TEXT_SUFFIXES else "bytes differ"
    return None


def compare_exports(exported: Path, committed: Path) -> list[str]:
    """Every disagreement between a folder of fresh exports and the committed one, one line each.

    A file exported but not committed, or committed but no longer exported, is a disagreement too.
    """
    new = {p.relative_to(exported) for p in exported.rglob("*") if p.is_file() and not p.name.startswith(".")}
    old = {p.relative_to(committed) for p in committed.rglob("*") if p.is_file() and not p.name.startswith(".")}
    problems = [f"{committed / p}: exported but not committed" for p in sorted(new - old)]
    problems += [f"{committed / p}: committed but no longer exported" for p in sorted(old - new)]
    for p in sorted(new & old):
        why = export_difference(exported / p, committed / p)
        if why:
            problems.append(f"{committed / p}: {why}")
    return problems
