"""Prove that a run changed nothing: one snapshot helper for every Molecule scenario.

    estate_snapshot.py save FILE ESTATE_PY      write ESTATE_PY's snapshot() to FILE (JSON)
    estate_snapshot.py compare FILE ESTATE_PY   exit 1 with a unified diff when the estate now
                                                differs from FILE, 0 when it is the same

ESTATE_PY is a scenario's tests/estate.py; its ``snapshot()`` returns what the role may touch (read
with boto3 from the embedded AWS), in a JSON-able form. molecule/shared/estate_snapshot.yml runs this
as a scenario's side effect around a check-mode converge.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any


def load_snapshot(estate_py: Path) -> Any:
    """The ``snapshot`` function of the scenario's estate module (its directory on sys.path)."""
    sys.path.insert(0, str(estate_py.resolve().parent))
    spec = importlib.util.spec_from_file_location(f"estate_{estate_py.parent.parent.name}", estate_py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.snapshot


def render(state: Any) -> str:
    return json.dumps(state, indent=1, sort_keys=True, default=str) + "\n"


def compare(before: str, now: str) -> tuple[bool, str]:
    """(same, report): the report is a unified diff of the two snapshots when they differ."""
    if before == now:
        return True, "estate unchanged"
    diff = "".join(difflib.unified_diff(before.splitlines(True), now.splitlines(True), "before", "now"))
    return False, "the estate changed:\n" + diff


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[1] not in ("save", "compare"):
        print(__doc__, file=sys.stderr)
        return 2
    action, path, estate_py = argv[1], Path(argv[2]), Path(argv[3])
    now = render(load_snapshot(estate_py)())
    if action == "save":
        path.write_text(now, encoding="utf-8")
        return 0
    same, report = compare(path.read_text(encoding="utf-8"), now)
    print(report)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
