"""The package's shape: layers that import one way, short functions, a test module per package module."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fmnist_utils"
TESTS = Path(__file__).resolve().parent

#: Lowest first; a module may import its own layer's modules and lower layers only (ARCHITECTURE.md).
LAYERS = [("paths",), ("data", "augment"), ("nn",), ("training",), ("mlp",), ("keras",), ("runs",),
          ("report",)]
MAX_FUNCTION_LINES = 60


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def layer_of(module: str) -> int:
    """The layer of a dotted module inside the package (``runs.store`` -> the index of ``runs``)."""
    top = module.split(".")[0]
    return next(i for i, names in enumerate(LAYERS) if top in names)


def dotted(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported package module, line, inside a function) for every import of the package in ``path``."""
    tree = ast.parse(path.read_text())
    here = dotted(path).split(".") if dotted(path) else []
    is_package = path.name == "__init__.py"
    found = []
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inside = {id(n) for f in functions for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = (here if is_package else here[:-1])[: len(here) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("fmnist_utils"):
                target = node.module.removeprefix("fmnist_utils").lstrip(".")
            else:
                continue
            names = [target] if target else [a.name for a in node.names]
            if target and not node.module:
                names = [f"{target}.{a.name}" for a in node.names]
            found += [(name, node.lineno, id(node) in inside) for name in names if name]
        elif isinstance(node, ast.Import):
            found += [(a.name.removeprefix("fmnist_utils."), node.lineno, id(node) in inside)
                      for a in node.names if a.name.startswith("fmnist_utils.")]
    return found


@pytest.mark.parametrize("path", [p for p in modules() if dotted(p)], ids=dotted)
def test_imports_run_one_way_and_never_hide_in_a_function(path):
    mine = layer_of(dotted(path))
    upward = [(m, line) for m, line, _ in package_imports(path) if layer_of(m) > mine]
    assert not upward, f"{dotted(path)} (layer {LAYERS[mine]}) imports higher layers: {upward}"
    hidden = [(m, line) for m, line, in_function in package_imports(path) if in_function]
    assert not hidden, f"{dotted(path)} imports package modules inside functions: {hidden}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_body_is_over_60_lines(path):
    long = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if isinstance(node.body[0], ast.Expr) and isinstance(
                getattr(node.body[0], "value", None), ast.Constant) else node.body
            if body and body[-1].end_lineno - body[0].lineno + 1 > MAX_FUNCTION_LINES:
                long.append((node.name, body[-1].end_lineno - body[0].lineno + 1))
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"


@pytest.mark.parametrize("path", [p for p in modules() if p.name != "__init__.py"], ids=dotted)
def test_every_package_module_has_its_test_module(path):
    """``runs/store.py`` -> ``tests/test_store.py`` (or ``test_runs_store.py``); ``keras/train.py`` ->
    ``test_keras_train.py``."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    candidates = {f"test_{parts[-1]}.py", f"test_{'_'.join(parts)}.py"}
    assert any((TESTS / name).is_file() for name in candidates), f"no {' or '.join(sorted(candidates))} for {path}"
