"""Done when a third-party plugin package installed with pip — no core change — is listed by
`storecrm plugins list`, can be enabled for one store, and reacts to that store's sales only.

examples/storecrm-hello is pip-installed into a temporary directory (offline: the wheel is
assembled here from its own pyproject.toml, so no build backend or index is needed), and every
step runs in a separate process that finds it only through PYTHONPATH and its entry point."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "storecrm-hello"
STORECRM = str(Path(sys.executable).with_name("storecrm"))


def build_wheel(source: Path, out: Path) -> Path:
    """A PEP 427 wheel of a pure-Python package, from its pyproject's [project] table."""
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    dist = f"{name.replace('-', '_')}-{version}"
    files: dict[str, bytes] = {}
    for path in sorted((source / name.replace("-", "_")).rglob("*.py")):
        files[path.relative_to(source).as_posix()] = path.read_bytes()
    groups = project.get("entry-points", {})
    files[f"{dist}.dist-info/entry_points.txt"] = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) for group, eps in groups.items()).encode()
    files[f"{dist}.dist-info/METADATA"] = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                           f"Summary: {project.get('description', '')}\n").encode()
    files[f"{dist}.dist-info/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: storecrm-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join(f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()},{len(b)}\n"
                     for p, b in files.items()) + f"{dist}.dist-info/RECORD,,\n"
    files[f"{dist}.dist-info/RECORD"] = record.encode()
    wheel = out / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


# One fresh process plays the shop: the real `storecrm` command group for each step, then tills.
SHOP_SCRIPT = r"""
import json
from click.testing import CliRunner
from sqlalchemy import select
from core.app import create_app
from core.cli import cli
from core.extensions import db
from core.models import Activity, ApiToken, Product, Store

runner = CliRunner()
def storecrm(*args):
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    return result.output

out = {"upgrade": storecrm("db", "upgrade")}
storecrm("stores", "create", "A001", "上海一店")
storecrm("stores", "create", "B001", "北京一店")
out["enable"] = storecrm("plugins", "enable", "hello", "--store", "A001")
out["list_a"] = storecrm("plugins", "list", "--store", "A001")
out["list_b"] = storecrm("plugins", "list", "--store", "B001")

app = create_app()
with app.app_context():
    db.session.add(Product(sku="LATTE-M", name="拿铁", price="28.00"))
    tokens = {}
    for store in db.session.scalars(select(Store)):
        row, raw = ApiToken.issue("till", store=store)
        db.session.add(row)
        tokens[store.code] = raw
    db.session.commit()
client = app.test_client()
answers = {}
for code, phone in (("A001", "13800138000"), ("B001", "13900139000"), ("A001", "13700137000")):
    r = client.post("/api/v1/sales", json={"customer": {"phone": phone}, "lines": [{"sku": "LATTE-M", "quantity": 1}]},
                    headers={"Authorization": "Bearer " + tokens[code]})
    assert r.status_code == 201, r.json
    answers.setdefault(code, []).append({"id": r.json["id"], "effects": r.json["effects"]})
with app.app_context():
    out["titles"] = sorted(db.session.scalars(select(Activity.title).where(Activity.source == "hello")))
out["answers"] = answers
print(json.dumps(out))
"""


def test_a_pip_installed_plugin_is_listed_enabled_for_one_store_and_reacts_there_only(tmp_path):
    target = tmp_path / "site"
    wheel = build_wheel(EXAMPLE, tmp_path)
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
                          str(target), str(wheel)], capture_output=True, text=True, timeout=120)
    assert pip.returncode == 0, pip.stderr
    assert (target / "storecrm_hello" / "hooks.py").exists()

    # STORECRM_PLUGINS unset: every installed plugin loads, the bundled ones and hello.
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORECRM_")}
    env.update({"PYTHONPATH": str(target), "STORECRM_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
                "STORECRM_DATA_KEY": Fernet.generate_key().decode(), "STORECRM_SECRET_KEY": "third-party-test",
                "STORECRM_INSTANCE_PATH": str(tmp_path / "instance"), "STORECRM_PLUGINS_STRICT": "1",
                "STORECRM_ENV_FILE": str(tmp_path / "no.env")})

    listed = subprocess.run([STORECRM, "plugins", "list"], env=env, cwd=str(tmp_path), capture_output=True,
                            text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "hello 0.1.0 - Says hello to every sale" in listed.stdout

    shop = subprocess.run([sys.executable, "-c", SHOP_SCRIPT], env=env, cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=90)
    assert shop.returncode == 0, shop.stderr[-3000:]
    out = json.loads(shop.stdout.strip().splitlines()[-1])
    assert "enabled in A001: hello" in out["enable"]
    assert "on  hello" in out["list_a"] and "off hello" in out["list_b"]
    a_sales, b_sales = out["answers"]["A001"], out["answers"]["B001"]
    assert all(s["effects"]["hello"] == {"greeting": "你好"} for s in a_sales)
    assert "hello" not in b_sales[0]["effects"]
    assert out["titles"] == sorted(f"hello saw sale {s['id']}" for s in a_sales)
