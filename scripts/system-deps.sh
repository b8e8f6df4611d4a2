#!/usr/bin/env bash
# Install what a fresh Debian/Ubuntu machine lacks: python3-venv, the Fashion-MNIST data package, and pdflatex with
# booktabs (texlive-latex-base, texlive-latex-recommended) for the test that compiles the exported .tex tables.
set -euo pipefail
need=()
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
have_data=0
for d in "${FMNIST_DATA_DIR:-}" "$HOME/.keras/datasets/fashion-mnist" /usr/share/datasets/fashion-mnist; do
  [ -n "$d" ] && [ -f "$d/train-images-idx3-ubyte.gz" ] && [ -f "$d/t10k-labels-idx1-ubyte.gz" ] && have_data=1
done
[ "$have_data" = 1 ] || need+=(dataset-fashion-mnist)
command -v pdflatex >/dev/null || need+=(texlive-latex-base)
command -v kpsewhich >/dev/null && kpsewhich booktabs.sty >/dev/null || need+=(texlive-latex-recommended)
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "Not a Debian/Ubuntu machine: install ${need[*]} yourself (without the data package, the loader downloads the files; without pdflatex, the LaTeX test is skipped)." >&2
  exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "Installing ${need[*]} with apt-get" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
