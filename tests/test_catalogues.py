"""The babel check: every msgid of every catalogue (the core's and each bundled plugin's) has a
Chinese translation, and each plugin's catalogue covers the strings its code marks (a string
may also come from the core's catalogue, which every page reads too)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
CORE_PO = ROOT / "core/translations/zh_Hans_CN/LC_MESSAGES/messages.po"
PLUGIN_POS = sorted(ROOT.glob("plugins/*/translations/zh/LC_MESSAGES/messages.po"))


def _translated(po_path: Path) -> set:
    return {m.id for m in read_po(po_path.open("rb")) if m.id and m.string and
            (not isinstance(m.string, tuple) or all(m.string)) and not m.fuzzy}


@pytest.mark.parametrize("po_path", [CORE_PO, *PLUGIN_POS], ids=lambda p: p.parts[-5] if "plugins" in p.parts else "core")
def test_every_msgid_has_a_chinese_translation(po_path):
    catalog = read_po(po_path.open("rb"))
    empty = sorted(str(m.id) for m in catalog if m.id and (not m.string or m.fuzzy or
                                                            (isinstance(m.string, tuple) and not all(m.string))))
    assert not empty, f"{po_path.relative_to(ROOT)}: msgids without a zh translation: {empty[:20]}"


@pytest.mark.parametrize("po_path", PLUGIN_POS, ids=lambda p: p.parts[-5])
def test_a_plugins_catalogue_covers_its_code(po_path, tmp_path):
    plugin = po_path.parents[3]
    config = tmp_path / "babel.cfg"
    config.write_text(f"[python: {plugin.relative_to(ROOT)}/**.py]\n[jinja2: {plugin.relative_to(ROOT)}/templates/**.html]\n")
    pot = tmp_path / "messages.pot"
    pybabel = str(Path(sys.executable).parent / "pybabel")
    subprocess.run([pybabel, "-q", "extract", "-F", str(config), "-k", "_l", "-k", "lazy_gettext", "-o", str(pot),
                    "--no-location", "."], cwd=ROOT, check=True)
    wanted = {m.id for m in read_po(pot.open("rb")) if m.id}
    missing = sorted(str(m) for m in wanted - _translated(po_path) - _translated(CORE_PO))
    assert not missing, f"{plugin.name}: strings in the code without a zh translation: {missing[:20]}"
