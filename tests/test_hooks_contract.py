"""The hook catalogue is a documented, tested contract (as datasette keeps its own):
every hookspec has a section in docs/hooks.md whose example is real, and a test implements it."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from core.plugins import hookspecs

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "hooks.md"
SECTION = re.compile(r"^### (\w+)(\(.*\))\s*$", re.M)


def hookspec_names() -> dict[str, str]:
    return {name: str(inspect.signature(func)) for name, func in vars(hookspecs).items()
            if callable(func) and hasattr(func, "storecrm_spec")}


def doc_sections() -> dict[str, dict]:
    text = DOC.read_text(encoding="utf-8")
    matches = list(SECTION.finditer(text))
    sections = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        sections[match.group(1)] = {"signature": match.group(2), "body": text[match.end():end]}
    return sections


def test_every_hookspec_has_a_section_in_docs_hooks_md_and_every_section_a_hookspec():
    specs, sections = hookspec_names(), doc_sections()
    missing = sorted(set(specs) - set(sections))
    assert not missing, "docs/hooks.md lacks a section for: " + "; ".join(
        f"add `### {name}{specs[name]}` with When, Arguments, Returns and an example taken from a real file"
        for name in missing)
    stale = sorted(set(sections) - set(specs))
    assert not stale, f"docs/hooks.md documents hooks that core/plugins/hookspecs.py does not define: {stale}"
    wrong = {name: (sections[name]["signature"], specs[name]) for name in specs if sections[name]["signature"] != specs[name]}
    assert not wrong, f"docs/hooks.md headings disagree with the hookspecs' signatures (doc, spec): {wrong}"
    for name, section in sections.items():
        for part in ("**When:**", "**Arguments:**", "**Returns:**", "Example from `"):
            assert part in section["body"], f"docs/hooks.md section {name} lacks {part}"


def test_every_example_in_docs_hooks_md_is_taken_from_the_file_it_cites():
    for name, section in doc_sections().items():
        found = re.search(r"Example from `([^`]+)`:\s*```python\n(.*?)```", section["body"], re.S)
        assert found, f"docs/hooks.md section {name}: write 'Example from `path`:' then a ```python block"
        path, code = ROOT / found.group(1), found.group(2)
        assert path.is_file(), f"docs/hooks.md section {name} cites {found.group(1)}, which does not exist"
        source = {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}
        stale = [line for line in code.splitlines() if line.strip() and line.strip() not in source]
        assert not stale, (f"docs/hooks.md section {name}: these lines are not in {found.group(1)} any more; "
                           f"copy the current code: {stale}")
        assert f"def {name}(" in code, f"docs/hooks.md section {name}: the example must show the hookimpl"


def _is_hookimpl(node) -> bool:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if (isinstance(target, ast.Name) and target.id == "hookimpl") or (
                isinstance(target, ast.Attribute) and target.attr == "hookimpl"):
            return True
    return False


def _texts(node) -> set[str]:
    """The string literals under `node` (f-strings by their fixed parts), docstrings left out."""
    skip = set()
    for sub in ast.walk(node):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub.body and isinstance(
                sub.body[0], ast.Expr) and isinstance(sub.body[0].value, ast.Constant):
            skip.add(id(sub.body[0].value))
    return {sub.value.strip() for sub in ast.walk(node)
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and id(sub) not in skip}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def parsed_test_modules() -> dict[str, ast.Module]:
    return {_module_name(path): ast.parse(path.read_text(encoding="utf-8"))
            for path in sorted((ROOT / "tests").rglob("*.py")) if path.name != Path(__file__).name}


def hookimpls_in_tests(modules: dict[str, ast.Module] | None = None) -> dict[str, list[tuple[str, ast.AST]]]:
    """Hook name -> [(test module, the @hookimpl function)]."""
    found: dict[str, list[tuple[str, ast.AST]]] = {}
    for name, tree in (modules or parsed_test_modules()).items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_hookimpl(node):
                found.setdefault(node.name, []).append((name, node))
    return found


def asserted_texts(name: str, modules: dict[str, ast.Module]) -> set[str]:
    """String literals inside `assert` statements of module `name` and of the test modules
    that import it (a plugin kept in a helper module is asserted on where it is used)."""
    def imports_it(tree) -> bool:
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) and (n.module == name or any(f"{n.module}.{a.name}" == name for a in n.names)):
                return True
            if isinstance(n, ast.Import) and any(a.name == name for a in n.names):
                return True
        return False

    users = [name] + [other for other, tree in modules.items() if other != name and imports_it(tree)]
    texts: set[str] = set()
    for user in users:
        for node in ast.walk(modules[user]):
            if isinstance(node, ast.Assert):
                texts |= _texts(node)
    return texts


def test_every_hookspec_is_implemented_by_a_test_plugin():
    implemented = hookimpls_in_tests()
    untested = sorted(set(hookspec_names()) - set(implemented))
    assert not untested, ("these hooks have no test: " + ", ".join(untested) + ". Add a tiny plugin with an "
                          "@hookimpl of each to a test under tests/ (see tests/test_hooks_called.py) and assert "
                          "what a user sees when it is called.")


def test_every_hookspec_has_an_assertion_on_what_its_test_plugin_produced():
    """Defining a hookimpl proves nothing: an `assert` in the same test module (or one that
    imports it) must name something the hookimpl produced — one of its string literals
    (a returned label, a recorded tuple's tag, a route, an f-string's fixed part) appears in
    the assert. A hook whose test plugin only exists, or whose result nobody checks, fails."""
    modules = parsed_test_modules()
    unchecked = {}
    for hook, impls in hookimpls_in_tests(modules).items():
        if hook not in hookspec_names():
            continue
        checked = any(produced in asserted
                      for module, node in impls
                      for asserted in asserted_texts(module, modules)
                      for produced in _texts(node) if len(produced) >= 3)
        if not checked:
            unchecked[hook] = sorted({module for module, _ in impls})
    assert not unchecked, ("no assert checks what these hooks' test plugins produced (an assert in the module, or "
                           "one importing it, must contain one of the hookimpl's string literals): "
                           + "; ".join(f"{h} in {', '.join(ms)}" for h, ms in sorted(unchecked.items())))
