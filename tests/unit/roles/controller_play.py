"""Run one of the collection's controller playbooks (playbooks/<name>.yml) on localhost for a test.

Shared by the role tests of flow_logs and config_recorder: the real ansible-playbook against the
embedded AWS the ``aws`` fixture exported, results as JSON (messages printed whole, the same on every
ansible-core of the supported range).
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


def run_play(
    name: str, extra_vars: dict[str, Any], *args: str, inventory_path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": sysconfig.get_paths()["purelib"],
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        }
    )
    command = [
        str(BIN / "ansible-playbook"),
        "-i",
        str(inventory_path) if inventory_path else "localhost,",
        "-e",
        json.dumps({"ansible_python_interpreter": sys.executable, **extra_vars}),
        str(REPO / "playbooks" / f"{name}.yml"),
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)


def changed_count(result: subprocess.CompletedProcess[str]) -> int:
    """The ``changed=`` of localhost in the play recap."""
    match = re.search(r"^localhost\s+:.*?changed=(\d+)", result.stdout, re.MULTILINE)
    assert match, result.stdout[-3000:]
    return int(match.group(1))
