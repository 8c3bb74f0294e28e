"""Run a module's ``main()`` in a test: the one home of how the module tests do it.

``run_main`` patches ``exit_json``/``fail_json`` to raise ``ModuleExit`` (the module's result, with
``msg`` on failure) and keeps the module's warnings apart (``ModuleExit.warnings``), so a test reads
exactly what Ansible would have printed, without a process per run.
"""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    def __init__(self, result: dict[str, Any], failed: bool, warnings: list[str] | None = None) -> None:
        super().__init__(json.dumps(result, default=str))
        self.result = result
        self.failed = failed
        self.warnings = warnings if warnings is not None else []


def run_main(module: Any, args: dict[str, Any], *patches: Any) -> ModuleExit:
    """``module.main()`` with ``args`` (``_ansible_check_mode`` etc. included) and ``patches``
    (``mock.patch`` objects, e.g. the module's clients) active; its exit or failure is returned."""
    warnings: list[str] = []

    def _exit(self: Any, **kwargs: Any) -> None:
        raise ModuleExit(kwargs, failed=False, warnings=warnings)

    def _fail(self: Any, msg: str, **kwargs: Any) -> None:
        raise ModuleExit(dict(kwargs, msg=msg), failed=True, warnings=warnings)

    active = [
        mock.patch("ansible.module_utils.basic.AnsibleModule.exit_json", _exit),
        mock.patch("ansible.module_utils.basic.AnsibleModule.fail_json", _fail),
        mock.patch("ansible.module_utils.basic.AnsibleModule.warn", lambda self, w: warnings.append(w)),
        *patches,
    ]
    with patch_module_args(args), pytest.raises(ModuleExit) as info:
        for patch in active:
            patch.start()
        try:
            module.main()
        finally:
            for patch in reversed(active):
                patch.stop()
    return info.value
