"""An admin import leaves no personal data in clear on disk: the upload is deleted once
imported, the rejected rows are kept encrypted under the data key."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import build_chain
from tests.imports.test_import_jobs import listed, signed_in, upload
from tests.privacy.helpers import PERSON, find_in_files, personal_needles

HEADER = "会员卡号,姓名,手机号,邮箱,地址\n"


def person_file() -> bytes:
    """PERSON, then a second card with the same phone: rejected, and its reason names PERSON's card."""
    row = f"{PERSON['code']},{PERSON['name']},{PERSON['phone_formats'][0]},{PERSON['email']},{PERSON['address']}\n"
    twin = f"VIP-0100,{PERSON['renamed']},{PERSON['phone_formats'][2]},,\n"
    return (HEADER + row + twin).encode("utf-8")


def test_the_instance_folder_holds_no_imported_person_in_clear(app):
    build_chain(app)
    client = signed_in(app, "manager")
    # before the import runs, the upload itself is what the scan must see
    folder = Path(app.instance_path) / "imports"
    folder.mkdir(exist_ok=True)
    (folder / "probe.csv").write_bytes(person_file())
    assert find_in_files(folder, [PERSON["email"]]), "the scan must see plaintext where it is"
    (folder / "probe.csv").unlink()

    upload(client, person_file())
    [run] = listed(client)
    assert (run["status"], run["created"], run["rejected"]) == ("done", 1, 1)
    rejects = client.get(run["rejects"]).get_data().decode("utf-8-sig")
    assert PERSON["code"] in rejects  # the rejects file is about the person...
    from core.extensions import db
    from core.models import ImportChunk

    with app.app_context():  # ...and is kept in the database, where any worker reads it,
        kept = [bytes(c.data) for c in db.session.query(ImportChunk).filter(ImportChunk.part == "rejects")]
    assert kept and not [n for n in personal_needles() for data in kept if n.encode() in data]  # encrypted,
    assert find_in_files(app.instance_path, personal_needles()) == []  # and nothing in clear on disk
