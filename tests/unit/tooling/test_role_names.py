"""Internal variable names follow one convention in every role (docs/architecture.md, "Names"):
``<role>__<name>`` (or ``<role>_<area>__<name>``) for what a role registers and for its vars/main.yml,
so an internal name can never be taken for, or collide with, a user's ``<role>_<name>`` variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())
# Being rebuilt this round; its owner adopts the convention with the rebuild (the test fails once it has).
PENDING = {"cloudwatch_agent_linux": "rebuilt for journald"}
REGISTER = re.compile(r"^\s*register:\s*([A-Za-z0-9_]+)\s*$", re.MULTILINE)


def internal(role: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(role)}(_[a-z0-9]+)*__[a-z0-9_]+$")


def names(role: Path) -> list[str]:
    found = []
    for path in sorted((role / "tasks").rglob("*.yml")) + sorted((role / "handlers").rglob("*.yml")):
        found += REGISTER.findall(path.read_text(encoding="utf-8"))
    for path in sorted((role / "vars").glob("*.yml")):
        found += list(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return sorted(set(found))


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_registers_and_role_vars_are_internal_names(role):
    wrong = [n for n in names(role) if not internal(role.name).match(n)]
    if role.name in PENDING:
        assert wrong, f"{role.name} follows the convention now: take it off PENDING"
        return
    assert not wrong, f"{role.name}: not <role>__<name>: {wrong}"


def test_the_pattern_tells_internal_from_public():
    pattern = internal("guardduty")
    assert pattern.match("guardduty__result")
    assert pattern.match("guardduty_response__caller")
    assert not pattern.match("guardduty_detectors")  # the role's public result
    assert not pattern.match("__guardduty_result")
    assert not pattern.match("agent_iam__role")
