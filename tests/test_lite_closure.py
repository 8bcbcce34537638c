"""What ``import kpi_xl.xl.functions`` pulls in must run in xlwings Lite (Pyodide): no
sockets, threads or subprocesses, and none of the batch side's packages. Checked
statically over the package's own sources, following every import (function-level ones
too, and the parent packages that Python runs first)."""

import ast
from pathlib import Path

import kpi_xl

PACKAGE = Path(kpi_xl.__file__).resolve().parent
FORBIDDEN = {"socket", "ssl", "threading", "_thread", "concurrent", "multiprocessing",
             "subprocess", "asyncio", "smtplib", "duckdb", "openpyxl", "pandas", "jinja2",
             "python_calamine", "xlsxwriter"}


def _file(module: str) -> Path | None:
    """The source of a kpi_xl module (package or plain module), or None if not one."""
    parts = module.split(".")
    if parts[0] != "kpi_xl":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _imports(module: str, path: Path) -> set[str]:
    """Absolute names of every module a file imports, wherever the import stands."""
    is_pkg = path.name == "__init__.py"
    here = module if is_pkg else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            out.add(target)
            for a in node.names:   # `from . import erlang` imports a submodule
                if _file(f"{target}.{a.name}"):
                    out.add(f"{target}.{a.name}")
    return out


def closure(root: str) -> tuple[set[str], set[str]]:
    """(kpi_xl modules, outside top-level names) that importing ``root`` reaches."""
    ours: set[str] = set()
    outside: set[str] = set()
    todo = [root, *_parents(root)]
    while todo:
        m = todo.pop()
        if m in ours:
            continue
        path = _file(m)
        if path is None:
            outside.add(m.split(".")[0])
            continue
        ours.add(m)
        for dep in _imports(m, path):
            todo += [dep, *_parents(dep)]
    return ours, outside


def test_functions_import_closure_runs_in_pyodide():
    ours, outside = closure("kpi_xl.xl.functions")
    assert not outside & FORBIDDEN, sorted(outside & FORBIDDEN)
    assert outside - {"__future__"} <= {
        "xlwings", "numpy", "warnings", "inspect", "typing", "math", "re", "datetime",
        "dataclasses", "numbers", "types"}, sorted(outside)
    assert not any(m.startswith(("kpi_xl.engine", "kpi_xl.data", "kpi_xl.scorecard",
                                 "kpi_xl.mail", "kpi_xl.run")) for m in ours), sorted(ours)


def test_the_walk_sees_what_it_must():
    """The walker is not vacuous: it follows relative, parent-package and function-level
    imports, and it does find the batch side where it is imported."""
    ours, outside = closure("kpi_xl.xl.functions")
    assert {"kpi_xl", "kpi_xl.xl", "kpi_xl.xl.adapter", "kpi_xl.catalog.erlang",
            "kpi_xl.render.cells", "kpi_xl.errors"} <= ours
    assert {"numpy", "xlwings"} <= outside
    # spec.py imports kpi_xl.errors inside a method only
    assert "kpi_xl.errors" in _imports("kpi_xl.catalog.spec", _file("kpi_xl.catalog.spec"))
    _, cli_outside = closure("kpi_xl.cli")
    assert {"duckdb", "openpyxl"} & cli_outside
