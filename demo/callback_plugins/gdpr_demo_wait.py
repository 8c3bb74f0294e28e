# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""make demo: holds one play of site.yml until the demo hosts' set-up has finished.

demo/run.sh sets the hosts up (demo/fleet.yml, tag demo_setup: web servers, the agent's
credentials) beside the first site.yml run, whose first plays work on AWS only. The play named by
GDPR_DEMO_WAIT_BEFORE (the first one that connects to the hosts) starts when the set-up has written
its exit status to the file GDPR_DEMO_WAIT_FOR. A failed or late set-up is reported here and by
demo/run.sh, which then fails the demo. Not part of the collection; demo/run.sh alone enables it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: gdpr_demo_wait
    type: aggregate
    short_description: Holds one play until the demo hosts are set up (make demo only)
    description:
      - Before the play named by C(GDPR_DEMO_WAIT_BEFORE) starts, waits (bounded) until the file
        C(GDPR_DEMO_WAIT_FOR) holds the exit status of the demo hosts' set-up.
    requirements:
      - enabled in callbacks_enabled (demo/run.sh does)
"""

TIMEOUT_S = 300.0


def wait_for_status(path: Path, timeout_s: float, poll_s: float = 0.2) -> int | None:
    """The exit status written to path, once it is there; None when it is not within timeout_s.

    The writer renames a complete file into place, so a file that exists is whole."""
    deadline = time.monotonic() + timeout_s
    while True:
        if path.exists():
            text = path.read_text().strip()
            return int(text) if text.lstrip("-").isdigit() else 1
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll_s)


class CallbackModule(CallbackBase):
    """See the module docstring."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "gdpr_demo_wait"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.play = os.environ.get("GDPR_DEMO_WAIT_BEFORE", "")
        self.path = os.environ.get("GDPR_DEMO_WAIT_FOR", "")
        self.held = False

    def v2_playbook_on_play_start(self, play: object) -> None:
        if self.held or not (self.play and self.path) or play.get_name().strip() != self.play:
            return
        self.held = True
        started = time.monotonic()
        status = wait_for_status(Path(self.path), TIMEOUT_S)
        if status is None:
            self._display.error(f"demo: the hosts' set-up did not finish in {TIMEOUT_S:.0f} s")
        elif status != 0:
            self._display.error(f"demo: the hosts' set-up failed (exit status {status})")
        else:
            self._display.display(f"demo: hosts set up, waited {time.monotonic() - started:.0f} s")
