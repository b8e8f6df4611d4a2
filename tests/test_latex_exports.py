"""Every exported ``.tex`` table under figures/ compiles with pdflatex in a minimal document (article + booktabs)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TABLES = sorted((ROOT / "figures").glob("*/*.tex"))
#: All a document needs to take the exported tables: booktabs for the rules (symbols are plain LaTeX math).
PREAMBLE = "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"


def test_there_are_tables_to_compile():
    assert len(TABLES) > 10


@pytest.mark.skipif(shutil.which("pdflatex") is None,
                    reason="pdflatex is missing, so the .tex exports are not compiled: scripts/system-deps.sh "
                           "installs it (texlive-latex-base, texlive-latex-recommended)")
def test_every_exported_table_compiles_with_pdflatex(tmp_path):
    """Each table alone in the minimal document: pdflatex must finish without an error or a missing glyph."""
    broken = []
    for table in TABLES:
        (tmp_path / "one.tex").write_text(PREAMBLE + f"\\input{{{table}}}\n\\end{{document}}\n")
        result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-draftmode", "one.tex"],
                                cwd=tmp_path, capture_output=True, text=True, timeout=120)
        log = (tmp_path / "one.log").read_text(errors="replace")
        problems = [line for line in log.splitlines() if line.startswith("!") or "Missing character" in line]
        if result.returncode or problems:
            broken.append(f"{table.relative_to(ROOT)}: {problems[0] if problems else result.stdout[-300:]}")
    assert not broken, f"{len(broken)} of {len(TABLES)} tables do not compile:\n" + "\n".join(broken)
