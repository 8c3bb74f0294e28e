"""Every changelog fragment is YAML antsibull-changelog can read: known sections, lists of strings.

A plain scalar with ``: `` in it (easy to write in prose) breaks the whole release's changelog, and
nothing else in ``make test`` reads the fragments.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CONFIG = yaml.safe_load((ROOT / "changelogs" / "config.yaml").read_text())
SECTIONS = {name for name, _title in CONFIG["sections"]} | {CONFIG.get("trivial_section_name", "trivial")}
FRAGMENTS = sorted((ROOT / "changelogs" / "fragments").glob("*.y*ml"))


def test_there_are_fragments() -> None:
    assert FRAGMENTS


@pytest.mark.parametrize("path", FRAGMENTS, ids=lambda p: p.name)
def test_fragment_is_valid(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict) and data, f"{path.name}: not a mapping of sections"
    unknown = set(data) - SECTIONS
    assert not unknown, f"{path.name}: unknown sections {sorted(unknown)}"
    for section, entries in data.items():
        assert isinstance(entries, list) and entries, f"{path.name}: {section} is not a non-empty list"
        bad = [e for e in entries if not isinstance(e, str) or not e.strip()]
        assert not bad, f"{path.name}: {section} has entries that are not text: {bad}"
