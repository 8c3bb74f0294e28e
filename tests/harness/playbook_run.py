"""The outcome of one ansible-playbook run, as the fault tests read it (tests/integration/test_faults*.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class Run:
    rc: int
    output: str

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        hosts = {}
        for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", self.output, re.M):
            hosts[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
        return hosts

    @property
    def changed(self) -> int:
        return sum(h["changed"] for h in self.recap.values())

    @property
    def failures(self) -> str:
        """The failure reports: each ``fatal:``/``failed:`` block up to the next task or play."""
        blocks = re.findall(
            r"^(?:fatal|failed): .*?(?=^TASK |^PLAY |^RUNNING HANDLER|\Z)", self.output, re.M | re.S
        )
        return "\n".join(blocks)

    def __str__(self) -> str:
        """What a failed assertion shows: the failures and the recap, not the whole run."""
        return f"rc={self.rc}\n{self.failures[-8000:]}\nrecap: {self.recap}"
