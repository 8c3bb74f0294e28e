"""Run ansible-playbook for a test: the one home of how the role tests call it.

``ansible_playbook`` runs any playbook in ``ansible_env()`` (this checkout's collections and
ansible.cfg, results as JSON: messages printed whole, the same on every ansible-core of the supported
range); ``run_play`` runs one of the collection's controller playbooks (playbooks/<name>.yml) on
localhost against the embedded AWS the ``aws`` fixture exported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def inventory(tmp_path: Path, hosts: dict[str, dict[str, Any]]) -> Path:
    """A static inventory whose hosts carry the hostvars the aws_ec2 plugin would give them."""
    path = tmp_path / "inventory.yml"
    path.write_text(
        yaml.safe_dump({"all": {"hosts": {"localhost": {"ansible_connection": "local"}, **hosts}}})
    )
    return path


def ansible_env(**extra: str) -> dict[str, str]:
    """This process's environment with the checkout's collections and config, this venv's Python for
    the modules (discovery could pick another python3 on PATH), JSON results, no colour and none of
    the warnings a localhost run prints; ``extra`` on top."""
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": sysconfig.get_paths()["purelib"],
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            **extra,
        }
    )
    return env


def ansible_playbook(
    playbook: Path,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: int = 600,
) -> subprocess.CompletedProcess[str]:
    """``ansible-playbook *args playbook`` (the venv's), in ``env`` (default ``ansible_env()``)."""
    return subprocess.run(
        [str(BIN / "ansible-playbook"), *args, str(playbook)],
        capture_output=True,
        text=True,
        env=env or ansible_env(),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def write_playbook(plays: list[dict[str, Any]], path: Path) -> Path:
    """``plays`` as a playbook file at ``path`` (keys in the order written)."""
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    return path


def run_play(
    name: str, extra_vars: dict[str, Any], *args: str, inventory_path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return ansible_playbook(
        REPO / "playbooks" / f"{name}.yml",
        "-i",
        str(inventory_path) if inventory_path else "localhost,",
        "-e",
        json.dumps({"ansible_python_interpreter": sys.executable, **extra_vars}),
        *args,
    )


def changed_count(result: subprocess.CompletedProcess[str]) -> int:
    """The ``changed=`` of localhost in the play recap."""
    match = re.search(r"^localhost\s+:.*?changed=(\d+)", result.stdout, re.MULTILINE)
    assert match, result.stdout[-3000:]
    return int(match.group(1))
