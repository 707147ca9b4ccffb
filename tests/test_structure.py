"""The structure the next features stand on, read from the source as Python reads it (`ast`).

Four rules, each a test that names the file and line breaking it:

- no import cycle among `supporthub` modules, imports inside functions included;
- no function-level import of another app (a lazy import hides a tie between apps);
- no module over 600 lines (the policy loader excepted, one coherent reader);
- no Django internals (compiler and query machinery, `_`-prefixed names).

Tests and migrations are left out of the first three: they are not the product's structure.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "supporthub"
MAX_LINES = 600
LONG_ALLOWED = {"supporthub/policies/loader.py"}
# Packages that are apps of their own inside a group: each channel of intake, each
# transport of notify (supporthub.intake.email, supporthub.notify.webhook, ...).
GROUPS = {"intake", "notify"}
# Django's compiler and query machinery: nothing in src/ reaches for it.
INTERNALS = {
    "get_compiler",
    "klass_info",
    "get_converters",
    "get_related_populators",
    "insert_statement",
    "_prepare_related_fields_for_save",
    "_post_clean",
}
# Names that hold Django objects in this code base, whose `_`-prefixed attributes are
# Django's private API: `connection._x`, `connections["default"]._x`, `qs.query._x`, ...
DJANGO_HOLDERS = {"connection", "connections", "query", "compiler", "ops", "features"}
ALLOWED_PRIVATE = {"_meta"}  # Model._meta is documented API


@dataclass(frozen=True)
class Import:
    target: str  # the supporthub module the statement loads (the most specific one)
    line: int
    lazy: bool  # inside a function: runs at call time, not at import time


@dataclass(frozen=True)
class Module:
    name: str
    path: Path

    @property
    def where(self) -> str:
        return str(self.path.relative_to(SRC))

    @property
    def tree(self) -> ast.Module:
        return _parse(self.path)

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _modules(*, product_only: bool) -> list[Module]:
    found = []
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if product_only and ("tests" in parts or "migrations" in parts):
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append(Module(name, path))
    return found


def _app(module: str) -> str:
    """`supporthub.X`, or `supporthub.intake.X` / `supporthub.notify.X` for a package X."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[1] in GROUPS and (SRC.joinpath(*parts[:3])).is_dir():
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(
    node: ast.AST, *, in_function: bool = False
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement under `node`, and whether it sits inside a function.

    Imports under `if TYPE_CHECKING:` are left out: they never run, so they tie nothing
    at run time (they exist for the type checker, which resolves cycles itself).
    """
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield from _import_nodes(other, in_function=in_function)
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, in_function
        inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
        yield from _import_nodes(child, in_function=inner)


def _imports(module: Module, known: set[str]) -> list[Import]:
    """The supporthub modules `module` imports, each at its line."""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    found = []
    for node, lazy in _import_nodes(module.tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                parents = package.split(".")
                parents = parents[: len(parents) - node.level + 1]
                base = ".".join([*parents, base] if base else parents)
            # `from pkg import name` loads pkg.name when that is a module, else pkg itself.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        for target in dict.fromkeys(targets):
            while target and target not in known:  # `import a.b.c` where c is a name
                target = target.rpartition(".")[0]
            if target and target != module.name:
                found.append(Import(target, node.lineno, lazy))
    return found


def _shortest_cycle(start: str, edges: dict[str, dict[str, int]], members: set[str]) -> list[str]:
    """The shortest path start -> ... -> start inside one strongly connected component."""
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for following in sorted(edges[current]):
            if following not in members:
                continue
            if following == start:
                chain = [current]
                while chain[-1] != start:
                    chain.append(previous[chain[-1]])
                return [*reversed(chain), start]
            if following not in previous:
                previous[following] = current
                queue.append(following)
    return [start]


def _components(edges: dict[str, dict[str, int]]) -> list[set[str]]:
    """Tarjan's strongly connected components of more than one module (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found


def test_no_import_cycle_among_supporthub_modules() -> None:
    """A cycle makes import order matter and hides which module owns what; a lazy import
    inside a function only moves the cycle to call time, so it counts too. An import under
    `if TYPE_CHECKING:` is left out of the graph: it never runs (annotations only)."""
    modules = {module.name: module for module in _modules(product_only=True)}
    known = set(modules)
    edges: dict[str, dict[str, int]] = {name: {} for name in modules}
    for name, module in modules.items():
        for imported in _imports(module, known):
            edges[name].setdefault(imported.target, imported.line)
    cycles = []
    for component in _components(edges):
        chain = _shortest_cycle(min(component), edges, component)
        steps = " -> ".join(
            f"{here} ({modules[here].where}:{edges[here][there]})"
            for here, there in zip(chain, chain[1:], strict=False)
        )
        cycles.append(f"{steps} -> {chain[-1]}  [{len(component)} modules in the cycle]")
    assert not cycles, "import cycles among supporthub modules:\n" + "\n".join(cycles)


def test_no_function_level_import_of_another_app() -> None:
    """Apps depend on one another at the top of the module, where it shows; supporthub.testing
    is for tests alone."""
    modules = _modules(product_only=True)
    known = {module.name for module in _modules(product_only=False)}
    found = []
    for module in modules:
        for imported in _imports(module, known):
            testing = [PACKAGE, "testing"]
            if imported.target.split(".")[:2] == testing and module.name.split(".")[:2] != testing:
                found.append(f"{module.where}:{imported.line} imports {imported.target}")
            elif imported.lazy and _app(imported.target) != _app(module.name):
                found.append(
                    f"{module.where}:{imported.line} imports {imported.target} inside a function"
                )
    assert not found, "imports that hide a tie between apps:\n" + "\n".join(found)


def test_no_module_over_600_lines() -> None:
    """A module past 600 lines holds more than one family of actions: split it by family."""
    found = [
        f"{module.where}: {lines} lines"
        for module in _modules(product_only=True)
        if module.where not in LONG_ALLOWED
        and (lines := len(module.path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]
    assert not found, f"modules over {MAX_LINES} lines:\n" + "\n".join(found)


def _comments(path: Path) -> dict[int, str]:
    source = path.read_text(encoding="utf-8")
    return {
        token.start[0]: token.string
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in ALLOWED_PRIVATE


def _root(node: ast.expr) -> str:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def _holds_django_object(node: ast.expr, django_names: set[str], supers: set[int]) -> bool:
    """`connection`, `connections[...]`, `x.query`, `compiler`, a name this module imported
    from django, or `super()` in a class built on one (`admin.ModelAdmin`, `forms.Form`)."""
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Name):
        return node.id in DJANGO_HOLDERS or node.id in django_names
    if isinstance(node, ast.Attribute):
        return node.attr in DJANGO_HOLDERS
    return id(node) in supers


def _django_supers(tree: ast.Module, django_names: set[str]) -> set[int]:
    """The `super()` calls in the classes whose bases come from django."""
    found = set()
    for cls in ast.walk(tree):
        if isinstance(cls, ast.ClassDef) and any(_root(b) in django_names for b in cls.bases):
            found |= {
                id(node)
                for node in ast.walk(cls)
                if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "super"
            }
    return found


def _internals(module: Module) -> Iterator[str]:
    tree = module.tree
    comments: dict[int, str] | None = None
    django_names: set[str] = set()
    for node in ast.walk(tree):
        where = f"{module.where}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            if not any(name == "django" or name.startswith("django.") for name in modules):
                continue
            if comments is None:
                comments = _comments(module.path)
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                if "type: ignore" in comments.get(line, ""):
                    yield f"{module.where}:{line}: an import of Django that needs `# type: ignore`"
            for alias in node.names:
                dotted = alias.name.split(".")
                if isinstance(node, ast.ImportFrom):
                    dotted = [*(node.module or "").split("."), alias.name]
                    django_names.add(alias.asname or alias.name)
                if any(_private(part) for part in dotted) or alias.name in INTERNALS:
                    yield f"{where}: imports {'.'.join(dotted)} from Django"
    supers = _django_supers(tree, django_names)
    for node in ast.walk(tree):
        where = f"{module.where}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute):
            if node.attr in INTERNALS:
                yield f"{where}: {ast.unparse(node)} (a Django internal)"
            elif _private(node.attr) and _holds_django_object(node.value, django_names, supers):
                yield f"{where}: {ast.unparse(node)} (a private attribute of a Django object)"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "hasattr", "setattr"}
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in INTERNALS
        ):
            yield f"{where}: {node.func.id}(..., {node.args[1].value!r})"


def test_no_django_internals_in_src() -> None:
    """Nothing in src/ that a Django upgrade may change without notice: the compiler and
    query machinery, `_`-prefixed names (Model._meta is public), imports that mypy refuses."""
    found = [line for module in _modules(product_only=False) for line in _internals(module)]
    found.sort(key=lambda line: (line.split(":")[0], int(line.split(":")[1])))
    assert not found, "Django internals in src/:\n" + "\n".join(found)
