"""The Windows role's controller-side GPG check of the agent MSI (tasks/verify_gpg.yml), run for real.

It runs on the controller, so it can run here: ansible-playbook includes the role's ``verify_gpg``
tasks with ``file://`` URLs to an "MSI" signed by throwaway keys made for the test. Proved: the
pinned key's signature passes and yields the file's SHA-256; a key file holding another key is
refused before it is imported; a package signed by another key is refused; the throwaway directory
is removed in every case.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def _gpg(home: Path, *args: str) -> str:
    out = subprocess.run(
        ["gpg", "--batch", "--homedir", str(home), *args], check=True, capture_output=True, text=True
    )
    return out.stdout


def _make_key(tmp: Path, name: str) -> tuple[Path, str]:
    home = tmp / f"gnupg-{name}"
    home.mkdir(mode=0o700)
    _gpg(home, "--passphrase", "", "--quick-gen-key", f"{name} <{name}@invalid>", "ed25519", "sign", "never")
    colons = _gpg(home, "--with-colons", "--list-keys")
    fpr = next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:"))
    return home, fpr


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    tmp = tmp_path_factory.mktemp("wingpg")
    pinned_home, pinned = _make_key(tmp, "pinned")
    attacker_home, attacker = _make_key(tmp, "attacker")
    msi = tmp / "agent.msi"
    msi.write_bytes(os.urandom(4096))
    for label, home in (("pinned", pinned_home), ("attacker", attacker_home)):
        _gpg(home, "--detach-sign", "--output", str(tmp / f"agent.msi.{label}.sig"), str(msi))
        (tmp / f"{label}.gpg").write_text(_gpg(home, "--armor", "--export"))
    yield {"tmp": tmp, "msi": msi, "pinned": pinned, "attacker": attacker}
    for home in (pinned_home, attacker_home):  # gpg left an agent running per keyring
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)


def _run(keys: dict, sig: str, key: str, fingerprint: str) -> tuple[int, str, dict]:
    tmp: Path = keys["tmp"]  # type: ignore[assignment]
    out = tmp / f"result-{sig}-{key}.json"
    playbook = tmp / "play.yml"
    playbook.write_text(
        f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: gdpr.aws_monitoring.cloudwatch_agent_windows
        tasks_from: verify_gpg
    - ansible.builtin.copy:
        content: "{{{{ {{'sha256': cloudwatch_agent_windows_gpg_verified_sha256}} | to_json }}}}"
        dest: "{out}"
        mode: "0600"
"""
    )
    extra = {
        "cloudwatch_agent_windows_msi_url": f"file://{keys['msi']}",
        "cloudwatch_agent_windows_msi_signature_url": f"file://{tmp}/agent.msi.{sig}.sig",
        "cloudwatch_agent_windows_gpg_key_url": f"file://{tmp}/{key}.gpg",
        "cloudwatch_agent_windows_gpg_fingerprint": fingerprint,
        "ansible_python_interpreter": sys.executable,
    }
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": sysconfig.get_paths()["purelib"],
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "TMPDIR": str(tmp),
    }
    res = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(playbook),
            "-e",
            json.dumps(extra),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    result = json.loads(out.read_text()) if out.exists() else {}
    return res.returncode, res.stdout + res.stderr, result


def _leftovers(keys: dict) -> list[Path]:
    return list(Path(keys["tmp"]).glob("*.cwagent-msi-gpg"))  # type: ignore[arg-type]


def test_pinned_signature_passes_and_gives_the_sha256(keys: dict) -> None:
    rc, out, result = _run(keys, "pinned", "pinned", str(keys["pinned"]))
    assert rc == 0, out
    assert result["sha256"] == hashlib.sha256(Path(keys["msi"]).read_bytes()).hexdigest()  # type: ignore[arg-type]
    assert not _leftovers(keys)


def test_another_key_is_refused_before_import(keys: dict) -> None:
    rc, out, result = _run(keys, "attacker", "attacker", str(keys["pinned"]))
    assert rc != 0 and not result
    assert "not importing it" in out and "cloudwatch_agent_windows_gpg_fingerprint" in out
    assert not _leftovers(keys)


def test_package_signed_by_another_key_is_refused(keys: dict) -> None:
    rc, out, result = _run(keys, "attacker", "pinned", str(keys["pinned"]))
    assert rc != 0 and not result
    assert "is not signed by the key" in out
    assert not _leftovers(keys)
