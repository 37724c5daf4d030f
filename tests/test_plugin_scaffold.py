"""`storecrm plugins new` writes a package that installs into a fresh virtualenv and passes its
own tests there; examples/storecrm-stampcard (the package docs/writing-plugins.md walks
through) is exactly what it writes, so the guide never drifts from the scaffold."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STORECRM = str(Path(sys.executable).with_name("storecrm"))


def scaffold(tmp_path: Path) -> Path:
    result = subprocess.run([STORECRM, "plugins", "new", "stampcard", "--dir", str(tmp_path), "--title", "Stamp card"],
                            capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return tmp_path / "storecrm-stampcard"


def test_the_example_in_the_guide_is_what_the_scaffold_writes(tmp_path):
    written = scaffold(tmp_path)
    example = ROOT / "examples" / "storecrm-stampcard"
    files = sorted(p.relative_to(written) for p in written.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(example) for p in example.rglob("*") if p.is_file()
                           and "__pycache__" not in p.parts and ".egg-info" not in str(p))
    for path in files:
        assert (written / path).read_bytes() == (example / path).read_bytes(), f"{path} differs: run `storecrm " \
            "plugins new stampcard --dir examples --title 'Stamp card'` again"


@pytest.mark.slow
def test_the_scaffold_installs_into_a_fresh_virtualenv_and_its_tests_pass(tmp_path):
    package = scaffold(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # storecrm itself (and its dependencies) come from this environment, as an installed
    # distribution would; the new package is pip-installed into the fresh one.
    fresh_site = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                                capture_output=True, text=True, check=True).stdout.strip()
    Path(fresh_site, "storecrm-host.pth").write_text(f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n")
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(package)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STORECRM_", "PYTEST_"))}
    run = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=package,
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0 and "4 passed" in run.stdout, run.stdout + run.stderr
