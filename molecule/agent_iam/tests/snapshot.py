"""`snapshot.py save FILE` / `snapshot.py compare FILE`: prove a check-mode run changed nothing."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import estate


def main(argv: list[str]) -> int:
    action, path = argv[1], Path(argv[2])
    now = json.dumps(estate.snapshot(), indent=1, sort_keys=True)
    if action == "save":
        path.write_text(now)
        return 0
    before = path.read_text()
    if before == now:
        print("estate unchanged")
        return 0
    print("the estate changed:")
    print("".join(difflib.unified_diff(before.splitlines(True), now.splitlines(True), "before", "after")))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
