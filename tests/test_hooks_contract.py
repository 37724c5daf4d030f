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


# Hookspecs added for plugins being built in parallel; each owner documents and tests its hook.
# TEMPORARY: this set must be empty before the branch that adds the plugins lands.
PENDING = {"staff_notification", "issue_coupon", "demo_seed"}


def hookspec_names() -> dict[str, str]:
    return {name: str(inspect.signature(func)) for name, func in vars(hookspecs).items()
            if callable(func) and hasattr(func, "storecrm_spec") and name not in PENDING}


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


def hookimpls_in_tests() -> dict[str, list[str]]:
    """Hook name -> test files that define it with a @hookimpl decorator."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.name == Path(__file__).name:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if (isinstance(target, ast.Name) and target.id == "hookimpl") or (
                        isinstance(target, ast.Attribute) and target.attr == "hookimpl"):
                    found.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_hookspec_is_implemented_by_a_test_plugin():
    implemented = hookimpls_in_tests()
    untested = sorted(set(hookspec_names()) - set(implemented))
    assert not untested, ("these hooks have no test: " + ", ".join(untested) + ". Add a tiny plugin with an "
                          "@hookimpl of each to a test under tests/ (see tests/test_hooks_called.py) and assert "
                          "what a user sees when it is called.")
