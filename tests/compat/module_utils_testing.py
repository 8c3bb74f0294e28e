"""Backport of ``ansible.module_utils.testing.patch_module_args`` for ansible-core < 2.19.

The collection's module unit tests use this test helper, which ansible-core added in 2.19. It is
test scaffolding, not something the collection's modules use: `tests/compat/build.sh` copies this
file into the low end's venv (only where ansible-core lacks it), so the same unit tests run
unchanged on 2.17. Before 2.19 AnsibleModule reads its arguments from ``basic._ANSIBLE_ARGS``
(JSON bytes ``{"ANSIBLE_MODULE_ARGS": ...}``), which is what this patches.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

from ansible.module_utils import basic


@contextlib.contextmanager
def patch_module_args(args: dict[str, Any] | None = None) -> Iterator[None]:
    """Expose the given module args to `AnsibleModule` instances created within this context."""
    if not isinstance(args, (dict, type(None))):
        raise TypeError("The `args` arg must be a dict or None.")
    payload = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()
    with mock.patch.object(basic, "_ANSIBLE_ARGS", payload):
        yield
