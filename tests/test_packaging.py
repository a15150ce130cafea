"""The built wheel carries the shipped constitutions, so `-c base` works when installed.

A checkout finds `base` beside the source; a user who runs `pip install` has only the
wheel. This builds the project's wheel, installs it into an empty folder and loads every
shipped constitution from there, in a process that cannot see the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from supervisor.constitution import SHIPPED_DIR, load_constitution, shipped

ROOT = Path(__file__).resolve().parent.parent

# what the installed copy reports: where it was loaded from, and each constitution's
# sha256 with the files found beside base (exemplars, calibration, exchange model)
PROBE = """
import json, supervisor
from supervisor.constitution import SHIPPED_DIR, load_constitution, shipped
print(json.dumps({
    "package": supervisor.__file__,
    "sha256": {cid: load_constitution(cid).sha256 for cid in shipped()},
    "beside": sorted(p.name for p in SHIPPED_DIR.iterdir()),
    "exemplars": sorted(p.name for p in (SHIPPED_DIR / "base.exemplars").iterdir()),
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # built from a copy of what the wheel is made of: a build in the checkout would
    # leave build/ and egg-info behind
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("supervisor", "api"):
        shutil.copytree(ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "--wheel-dir", str(out), str(source)],
        capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    (found,) = out.glob("constitutional_supervisor-*.whl")
    return found


def test_the_wheel_holds_every_shipped_file(wheel: Path) -> None:
    """Each file under supervisor/constitutions/ in the checkout is in the wheel."""
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"supervisor/constitutions/{p.relative_to(SHIPPED_DIR).as_posix()}"
                for p in SHIPPED_DIR.rglob("*") if p.is_file()}
    assert expected, "no shipped files found in the checkout"
    assert expected <= names, sorted(expected - names)


def test_an_installed_wheel_loads_the_shipped_constitutions_by_id(
        wheel: Path, tmp_path: Path) -> None:
    """Installed elsewhere, `load_constitution("base")` finds base and its side files."""
    site = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
         str(site), str(wheel)], capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stderr
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=False)
    assert probe.returncode == 0, probe.stderr
    seen = json.loads(probe.stdout)
    assert Path(seen["package"]).is_relative_to(site)  # the wheel's copy, not the checkout
    assert seen["sha256"] == {cid: load_constitution(cid).sha256 for cid in shipped()}
    assert {"base.calibration.json", "base.exchange.json", "base.requests.jsonl"} <= set(
        seen["beside"])
    assert seen["exemplars"] == sorted(p.name for p in (SHIPPED_DIR / "base.exemplars").iterdir())
