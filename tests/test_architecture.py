"""The package's shape, checked: sizes, import circles, function-local imports, layering.

The limits are the developers' guide's (issue 18): no module over 500 lines (the synthetic
generator, whose docstring documents the features, up to 520; its calibration records live in
``ftcl.data.calibration``), no function over 80 lines (``def`` through its last line, as ``ast``
counts), no import circle between ftcl modules (function-local imports included), at most 10
function-local ``ftcl`` imports in the package, each with a one-line reason comment, and the
layering of the package map (``ftcl/__init__.py``): what each part may import.

``python tests/test_architecture.py [ROOT]`` prints the counts for the checkout at ``ROOT``
(default: this one), e.g. to compare two commits.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 500
MODULE_LINE_EXCEPTIONS = {"ftcl.data.synthetic": 520}
MAX_FUNCTION_LINES = 80
MAX_LOCAL_IMPORTS = 10
# Words one of which a function-local import's reason comment names.
LOCAL_IMPORT_REASONS = ("optional", "start-up")

# The package map's layers (ftcl/__init__.py): a part may import itself and the parts listed.
BASE = ("ftcl", "ftcl.paths", "ftcl.io", "ftcl.interrupt", "ftcl.seed", "ftcl.device",
        "ftcl.provenance", "ftcl.project")
ORDER = ("base", "dp", "config", "evaluation", "data", "models", "losses", "train", "report",
         "analysis", "reproduce", "book", "cli", "main")
ALLOWED = {
    "base": {"base"},
    "dp": set(),
    "config": {"base"},
    "evaluation": {"base"},
    "data": {"base", "dp", "evaluation"},
    "models": {"base", "config"},
    "losses": {"base", "config", "dp", "models"},
    "train": set(ORDER[:ORDER.index("train")]),
    "report": {"base", "config", "data", "evaluation"},
    "analysis": set(ORDER[:ORDER.index("analysis")]),
    "reproduce": set(ORDER[:ORDER.index("reproduce")]),
    "book": {"base", "config", "dp", "data", "report"},
    "cli": set(ORDER[:ORDER.index("cli")]),
    "main": {"cli"},
}


@dataclass
class Module:
    name: str
    path: Path
    lines: int
    is_package: bool
    functions: list[tuple[str, int]] = field(default_factory=list)  # (qualified name, lines)
    # (target module, line, inside a function, the line's text)
    imports: list[tuple[str, int, bool, str]] = field(default_factory=list)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _functions(tree: ast.AST) -> list[tuple[str, int]]:
    out = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                out.append((name, child.end_lineno - child.lineno + 1))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def _imports(tree: ast.AST, current: str, is_package: bool, known: set[str],
             lines: list[str]) -> list[tuple[str, int, bool, str]]:
    out = []

    def targets(node) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = _resolve(node, current, is_package)
        found = []
        for alias in node.names:
            sub = f"{base}.{alias.name}" if base else alias.name
            found.append(sub if sub in known else base)
        return found

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in dict.fromkeys(targets(child)):
                    if target == "ftcl" or target.startswith("ftcl."):
                        out.append((target, child.lineno, local,
                                    lines[child.lineno - 1].strip()))
            visit(child, inner)

    visit(tree, False)
    return out


def scan(root: Path = ROOT) -> dict[str, Module]:
    """Every module of ``<root>/ftcl``: lines, functions and ftcl imports."""
    paths = sorted((root / "ftcl").rglob("*.py"))
    names = {module_name(p, root) for p in paths}
    modules = {}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        name = module_name(path, root)
        package = path.name == "__init__.py"
        modules[name] = Module(name, path, len(text.splitlines()), package, _functions(tree),
                               _imports(tree, name, package, names, text.splitlines()))
    return modules


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), function-local imports
    included: each is an import circle."""
    graph = {m: sorted({t for t, *_ in mod.imports if t in modules and t != m})
             for m, mod in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for v in graph:
        if v not in index:
            strongconnect(v)
    return groups


def part(module: str) -> str:
    """The package map's part a module belongs to."""
    if module in BASE:
        return "base"
    if module == "ftcl.__main__":
        return "main"
    return module.split(".")[1]


def local_imports(modules: dict[str, Module]) -> list[tuple[str, int, str]]:
    return [(m.name, line, text) for m in modules.values()
            for _, line, local, text in m.imports if local]


def counts(root: Path = ROOT) -> dict:
    """The numbers issue 18 asks for, for the checkout at ``root``."""
    modules = scan(root)
    functions = [(f"{m.name}.{f}", n) for m in modules.values() for f, n in m.functions]
    longest_file = max(modules.values(), key=lambda m: m.lines)
    longest_function = max(functions, key=lambda f: f[1])
    return {
        "modules": len(modules),
        "lines": sum(m.lines for m in modules.values()),
        "longest_file": (longest_file.name, longest_file.lines),
        "longest_function": longest_function,
        "functions_over_limit": sorted((f for f in functions if f[1] > MAX_FUNCTION_LINES),
                                       key=lambda f: -f[1]),
        "modules_over_limit": sorted(
            ((m.name, m.lines) for m in modules.values()
             if m.lines > MODULE_LINE_EXCEPTIONS.get(m.name, MAX_MODULE_LINES)),
            key=lambda f: -f[1]),
        "circles": cycles(modules),
        "local_imports": len(local_imports(modules)),
    }


# ------------------------------------------------------------------------------ the checks


def test_no_module_over_its_limit():
    assert counts()["modules_over_limit"] == []


def test_no_function_over_80_lines():
    assert counts()["functions_over_limit"] == []


def test_no_import_circle():
    assert cycles(scan()) == []


def test_few_function_local_imports_each_with_a_reason():
    modules = scan()
    found = local_imports(modules)
    assert len(found) <= MAX_LOCAL_IMPORTS, found
    for name, line, text in found:
        source = modules[name].path.read_text(encoding="utf-8").splitlines()
        comment = " ".join(source[max(0, line - 2):line])  # the line itself or the one above
        assert "#" in comment and any(w in comment for w in LOCAL_IMPORT_REASONS), (
            f"{name}:{line}: a function-local import needs a reason comment naming an "
            f"{' or '.join(LOCAL_IMPORT_REASONS)} cost: {text}")


def test_layering_follows_the_package_map():
    modules = scan()
    wrong = []
    for m in modules.values():
        mine = part(m.name)
        for target, line, _, text in m.imports:
            theirs = part(target)
            if theirs != mine and theirs not in ALLOWED[mine]:
                wrong.append(f"{m.name}:{line} ({mine}) imports {target} ({theirs}): {text}")
    assert wrong == []


def test_every_module_belongs_to_a_part_of_the_map():
    assert {part(m) for m in scan()} <= set(ALLOWED)


def test_tests_mirror_the_package_and_import_no_other_test_module():
    tests = Path(__file__).resolve().parent
    parts = {p.name for p in (ROOT / "ftcl").iterdir()
             if p.is_dir() and (p / "__init__.py").is_file()}
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert folders <= parts, f"test folders without a package part: {folders - parts}"
    stems = {p.stem for p in tests.rglob("test_*.py")} | {"conftest"}
    for path in tests.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[-1] not in stems and not name.startswith("tests"), (
                    f"{path.relative_to(tests)} imports the test module {name}")


def test_the_scan_sees_a_local_import_and_a_circle(tmp_path):
    """The checks above can fail: a made-up package with a circle through a local import."""
    pkg = tmp_path / "ftcl"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import x\n    return x\n")
    modules = scan(tmp_path)
    assert cycles(modules) == [["ftcl.a", "ftcl.b"]]
    assert local_imports(modules) == [("ftcl.b", 2, "from .a import x")]
    assert counts(tmp_path)["longest_function"] == ("ftcl.b.f", 3)


if __name__ == "__main__":
    where = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
    result = counts(where)
    print(f"checkout: {where}")
    for key in ("modules", "lines", "longest_file", "longest_function", "local_imports"):
        print(f"{key}: {result[key]}")
    print(f"functions over {MAX_FUNCTION_LINES} lines: {len(result['functions_over_limit'])}")
    for name, n in result["functions_over_limit"]:
        print(f"  {n:4d}  {name}")
    print(f"modules over their limit: {len(result['modules_over_limit'])}")
    for name, n in result["modules_over_limit"]:
        print(f"  {n:4d}  {name}")
    print(f"import circles: {len(result['circles'])}")
    for group in result["circles"]:
        print("  " + " <-> ".join(group))
