"""core/translations/messages.pot is current: a fresh extraction finds exactly its msgids
(a string added to the code without `pybabel extract` fails here, with the command to run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]


def test_messages_pot_matches_a_fresh_extraction(tmp_path):
    fresh = tmp_path / "messages.pot"
    pybabel = str(Path(sys.executable).parent / "pybabel")
    subprocess.run([pybabel, "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-o", str(fresh), "."],
                   cwd=ROOT, check=True)
    wanted = {m.id if isinstance(m.id, str) else tuple(m.id) for m in read_po(fresh.open("rb")) if m.id}
    kept = {m.id if isinstance(m.id, str) else tuple(m.id)
            for m in read_po((ROOT / "core/translations/messages.pot").open("rb")) if m.id}
    assert wanted == kept, (
        f"messages.pot is stale (new: {sorted(map(str, wanted - kept))[:10]}, gone: {sorted(map(str, kept - wanted))[:10]}): "
        "run the pybabel extract command of babel.cfg")
