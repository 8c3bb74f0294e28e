"""The demo writes the agent's onPremise credentials readable by the agent's user only.

It used to write them 0640 root:adm: every member of adm (the group log readers join) could read
the secret key. The file is the one demo/demo_vars.yml points the Linux agent role at.
"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
# The agent's user on Debian (agent.run_as_user when cloudwatch_agent_linux_run_as_user is empty).
AGENT_USER = "cwagent"


def fleet_tasks() -> list[dict]:
    return [
        task
        for play in yaml.safe_load((REPO / "demo" / "fleet.yml").read_text())
        for task in play.get("tasks", [])
    ]


def test_credentials_file_belongs_to_the_agent_user_and_nobody_else_reads_it():
    path = yaml.safe_load((REPO / "demo" / "demo_vars.yml").read_text())[
        "cloudwatch_agent_linux_shared_credential_file"
    ]
    writes = [t for t in fleet_tasks() if (t.get("ansible.builtin.copy") or {}).get("dest") == path]
    assert len(writes) == 1
    copy = writes[0]["ansible.builtin.copy"]
    assert copy["owner"] == AGENT_USER
    assert int(str(copy["mode"]), 8) & 0o077 == 0, "group or others can read the keys"
    assert writes[0].get("no_log") is True


def test_the_agent_user_exists_before_its_credentials_are_written():
    tasks = fleet_tasks()
    names = [(t.get("ansible.builtin.user") or {}).get("name") for t in tasks]
    path_index = next(
        i for i, t in enumerate(tasks) if (t.get("ansible.builtin.copy") or {}).get("owner") == AGENT_USER
    )
    assert AGENT_USER in names[:path_index]
