"""Catalogues: every admin string has a zh_CN translation, the committed .mo matches its .po,
and a plugin's translations/ directory is used."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def _key(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def catalogues():
    for po in sorted(ROOT.glob("core/translations/*/LC_MESSAGES/*.po")) + sorted(ROOT.glob("plugins/*/translations/*/LC_MESSAGES/*.po")):
        yield po


def test_every_po_has_a_matching_compiled_mo():
    found = list(catalogues())
    assert found
    for po_path in found:
        po = read_po(po_path.open("rb"))
        mo_path = po_path.with_suffix(".mo")
        assert mo_path.exists(), f"{mo_path} missing: run pybabel compile -d {po_path.parents[2]}"
        mo = read_mo(mo_path.open("rb"))
        expected = {_key(m.id): _key(m.string) for m in po if m.id and m.string and not m.fuzzy}
        compiled = {_key(m.id): _key(m.string) for m in mo if m.id}
        assert compiled == expected, f"{mo_path} is stale: run pybabel compile -d {po_path.parents[2]}"


def test_every_string_of_the_core_is_translated_to_chinese(tmp_path):
    pot = tmp_path / "messages.pot"
    pybabel = str(Path(sys.executable).parent / "pybabel")
    subprocess.run([pybabel, "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-o", str(pot),
                    "--no-location", "."], cwd=ROOT, check=True)
    wanted = {m.id for m in read_po(pot.open("rb")) if m.id}
    po = read_po((ROOT / "core/translations/zh_Hans_CN/LC_MESSAGES/messages.po").open("rb"))
    translated = {m.id for m in po if m.id and m.string and (not isinstance(m.string, tuple) or all(m.string))}
    missing = sorted(str(m) for m in wanted - translated)
    assert not missing, f"untranslated (pybabel update, then translate): {missing[:20]}"


def test_a_plugins_translations_dir_joins_the_catalogue(make_app, tmp_path):
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from flask_babel import force_locale, gettext

    from core.plugins import Manifest

    package = tmp_path / "loyalty_cards"
    (package / "translations/zh_Hans_CN/LC_MESSAGES").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    catalog = Catalog(locale="zh_Hans_CN")
    catalog.add("Loyalty cards", "集点卡")
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    (package / "translations/zh_Hans_CN/LC_MESSAGES/messages.mo").write_bytes(buffer.getvalue())
    sys.path.insert(0, str(tmp_path))
    try:
        app = make_app(plugins=[Manifest(name="loyalty_cards", version="1", summary="x", hooks=object(),
                                         package="loyalty_cards")])
        with app.test_request_context(), force_locale("zh_CN"):
            assert gettext("Loyalty cards") == "集点卡"
            assert gettext("Customers") == "客户"  # the core's catalogue still answers
    finally:
        sys.path.remove(str(tmp_path))


def test_the_core_wording_wins_over_a_plugin_reusing_the_same_string(app):
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale("zh_CN"):
        assert gettext("Name") == "姓名"
