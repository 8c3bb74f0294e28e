"""Imports every module, module_utils and filter plugin of the collection, in the interpreter that runs it.

Run by tests/compat/run.sh in each end's venv, which holds ansible-core, boto3, the collections the
collection depends on and only the test tools its own tests need (tests/compat/requirements.txt), not
the main venv's others (ansible-lint, molecule, ansible-runner and all they pull in): an import that
only works because one of those pulled a package in fails here. Prints one line per plugin kind, and exits
non-zero naming each plugin that failed to import and why.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "ansible_collections.gdpr.aws_monitoring.plugins"
KINDS = ("module_utils", "modules", "filter", "inventory", "doc_fragments")


def plugin_names(kind: str) -> list[str]:
    """The importable plugin names of one kind (files under plugins/<kind>/, no private ones)."""
    folder = ROOT / "plugins" / kind
    return sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))


def main() -> int:
    failures: list[str] = []
    for kind in KINDS:
        names = plugin_names(kind)
        for name in names:
            try:
                importlib.import_module(f"{PACKAGE}.{kind}.{name}")
            except Exception as exc:  # every failure is reported, not only the first
                failures.append(f"{kind}/{name}.py: {type(exc).__name__}: {exc}")
        if names:
            print(f"{kind}: {len(names)} imported")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(f"{'import failures: ' + str(len(failures)) if failures else 'all plugins import'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
