"""make demo's hold on site.yml's Linux play until the hosts are set up (demo/callback_plugins).

The callback is driven here the way ansible-playbook drives it (play start events); the set-up's
status file is written by a thread, as demo/run.sh's background set-up writes it.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
import yaml
from ansible.plugins.loader import callback_loader

REPO = Path(__file__).resolve().parents[3]
callback_loader.add_directory(str(REPO / "demo" / "callback_plugins"))
plugin = callback_loader.get("gdpr_demo_wait", class_only=True)
module = __import__(plugin.__module__, fromlist=["wait_for_status"])


class Play:
    def __init__(self, name: str) -> None:
        self.name = name

    def get_name(self) -> str:
        return self.name


def write_later(path: Path, text: str, after_s: float) -> threading.Thread:
    def write() -> None:
        time.sleep(after_s)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.rename(path)

    thread = threading.Thread(target=write)
    thread.start()
    return thread


@pytest.mark.parametrize(("text", "status"), [("0\n", 0), ("2\n", 2), ("garbage", 1)])
def test_the_status_is_read_once_written(tmp_path: Path, text: str, status: int) -> None:
    path = tmp_path / "setup.status"
    thread = write_later(path, text, 0.05)
    assert module.wait_for_status(path, timeout_s=5, poll_s=0.02) == status
    thread.join()


def test_no_status_within_the_bound_is_none(tmp_path: Path) -> None:
    started = time.monotonic()
    assert module.wait_for_status(tmp_path / "never", timeout_s=0.1, poll_s=0.02) is None
    assert time.monotonic() - started < 2


def test_only_the_named_play_waits_and_only_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "setup.status"
    monkeypatch.setenv("GDPR_DEMO_WAIT_FOR", str(path))
    monkeypatch.setenv("GDPR_DEMO_WAIT_BEFORE", "Linux play")
    monkeypatch.setattr(module, "TIMEOUT_S", 2.0)  # a wrongly held play fails the test, not hangs it
    callback = callback_loader.get("gdpr_demo_wait")
    started = time.monotonic()
    callback.v2_playbook_on_play_start(Play("AWS play"))  # not held: no status yet, returns at once
    assert time.monotonic() - started < 0.5
    thread = write_later(path, "0", 0.3)
    callback.v2_playbook_on_play_start(Play("Linux play"))
    assert time.monotonic() - started >= 0.3
    thread.join()
    path.unlink()
    callback.v2_playbook_on_play_start(Play("Linux play"))  # held once: a second run's play passes
    assert callback.held


def test_run_sh_holds_the_play_that_first_connects_to_the_hosts() -> None:
    """The name demo/run.sh passes is the Linux agent play's: a renamed play must fail here, not
    leave the play racing the set-up."""
    held = re.search(r'GDPR_DEMO_WAIT_BEFORE="([^"]+)"', (REPO / "demo" / "run.sh").read_text())
    assert held
    plays = yaml.safe_load((REPO / "playbooks" / "cloudwatch_agent_linux.yml").read_text())
    assert held.group(1) == plays[0]["name"]
