"""tests/harness/estate_snapshot.py: the one "the run changed nothing" helper of the Molecule scenarios."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("estate_snapshot", ROOT / "tests/harness/estate_snapshot.py")
snap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(snap)

ESTATE = """
STATE = {"eu-west-1": [{"DetectorId": "d1", "Status": "ENABLED"}]}


def snapshot():
    return STATE
"""


def scenario(tmp_path: Path, body: str = ESTATE) -> Path:
    estate_py = tmp_path / "scenario" / "tests" / "estate.py"
    estate_py.parent.mkdir(parents=True)
    estate_py.write_text(body)
    return estate_py


def test_save_then_compare_the_same_estate_passes(tmp_path, capsys):
    estate_py, saved = scenario(tmp_path), tmp_path / "before.json"
    assert snap.main(["x", "save", str(saved), str(estate_py)]) == 0
    assert snap.main(["x", "compare", str(saved), str(estate_py)]) == 0
    assert "estate unchanged" in capsys.readouterr().out


def test_a_changed_estate_fails_with_the_difference(tmp_path, capsys):
    estate_py, saved = scenario(tmp_path), tmp_path / "before.json"
    assert snap.main(["x", "save", str(saved), str(estate_py)]) == 0
    estate_py.write_text(ESTATE.replace('"ENABLED"', '"DISABLED"'))
    assert snap.main(["x", "compare", str(saved), str(estate_py)]) == 1
    out = capsys.readouterr().out
    assert '-   "Status": "ENABLED"' in out and '+   "Status": "DISABLED"' in out


def test_wrong_usage_is_refused(tmp_path):
    assert snap.main(["x", "diff", str(tmp_path / "f"), str(scenario(tmp_path))]) == 2
