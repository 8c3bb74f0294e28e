"""tests/sanity/make_get_pip.py: the offline stand-in for ansible-test's get-pip bootstrap.

The generated script is run the way ansible-test runs it (its quiet_pip.py entry point with
GET_PIP set, inside a venv created without pip) and must leave exactly the embedded pip behind.
"""

from __future__ import annotations

import ensurepip
import glob
import importlib.util
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("make_get_pip", ROOT / "tests/sanity/make_get_pip.py")
make_get_pip = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_get_pip)

QUIET_PIP = Path(sysconfig.get_paths()["purelib"]) / "ansible_test/_util/target/setup/quiet_pip.py"


def pip_wheel() -> Path | None:
    """A pip wheel already on this machine: the sanity cache, or the one ensurepip carries.

    The sanity cache only once complete (its stamp is written last): `make test` may run this test
    while `make sanity` is still downloading into it.
    """
    cache = ROOT / ".cache/sanity/wheels"
    patterns = [
        *([str(cache / "pip-*.whl")] if (cache / ".stamp").exists() else []),
        os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl"),
        "/usr/share/python-wheels/pip-*.whl",
    ]
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if found:
            return Path(found[-1])
    return None


def test_render_rejects_what_is_not_a_pip_wheel(tmp_path):
    other = tmp_path / "setuptools-70.0.0-py3-none-any.whl"
    other.write_bytes(b"PK")
    with pytest.raises(ValueError, match="not a pip wheel"):
        make_get_pip.render(other)


def test_main_usage_error(capsys):
    assert make_get_pip.main([]) == 2
    assert "Usage" in capsys.readouterr().err


def test_bootstrap_installs_the_embedded_pip_into_an_empty_venv(tmp_path):
    wheel = pip_wheel()
    if wheel is None:
        pytest.skip("no pip wheel on this machine (run make sanity once, or use a Python with ensurepip)")
    version = wheel.name.split("-")[1]
    script = tmp_path / "cache" / f"get_pip_{version.replace('.', '_')}.py"
    assert make_get_pip.main([str(wheel), str(script)]) == 0

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GET_PIP": str(script)}
    args = [f"pip=={version}", "--disable-pip-version-check", "--no-setuptools", "--no-wheel"]
    result = subprocess.run(
        [python, QUIET_PIP, *args], env=env, capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr

    shown = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True, check=True)
    assert shown.stdout.startswith(f"pip {version} from {venv}")
