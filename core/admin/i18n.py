"""Languages: Flask-Babel with the core's catalogue, each plugin's `translations/` and
Flask-Admin's own (its domain `admin`, which follows the same locale selector).

Catalogues are committed compiled (`.mo` next to `.po`) so a fresh clone runs without a
build step; `tests/admin/test_i18n.py` fails when a `.po` changed and its `.mo` was not rebuilt."""

from __future__ import annotations

import importlib.util
import os

from flask_babel import Babel

CORE_TRANSLATIONS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "translations")


def translation_directories(registry) -> list[str]:
    """Plugins' directories, then the core's: Flask-Babel merges later catalogues over earlier
    ones, so a plugin that reuses a core string ("Name") cannot change how the core reads."""
    dirs = []
    for manifest in registry.manifests.values():
        if not manifest.package:
            continue
        spec = importlib.util.find_spec(manifest.package)
        if spec is None or not spec.submodule_search_locations:
            continue
        candidate = os.path.join(list(spec.submodule_search_locations)[0], "translations")
        if os.path.isdir(candidate):
            dirs.append(candidate)
    return dirs + [CORE_TRANSLATIONS]


def init_babel(app, registry) -> Babel:
    from core.admin.auth import select_locale

    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(translation_directories(registry))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config.get("LOCALE") or "zh_CN")
    babel = Babel(app, locale_selector=select_locale, timezone_selector=_store_timezone)
    return babel


def _store_timezone():
    # Times are stored in UTC and shown on the current store's wall clock.
    from core.admin.base import current_store

    try:
        store = current_store()
    except Exception:  # noqa: BLE001 - outside a request with a user there is no store
        store = None
    return store.timezone if store is not None else "Asia/Shanghai"
