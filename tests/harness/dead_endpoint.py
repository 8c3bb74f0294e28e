"""The endpoint dying mid-run, made cheap: once the fault proxy died, the rest of the run is refused.

A run whose endpoint died retries the dead port for the retry policy's whole time budget (about
120 s per call) before it fails: what a dropped endpoint costs a real run, and minutes a test cannot
afford. The fault tests only need the run cut at the call they name and failed; so once the proxy
died, it listens again and refuses every call of the given regions, and the run fails at once. The
estate is the same either way: no call after the death is carried out.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator

from fault_proxy import FaultProxy


def refuse_everything_once_dead(
    proxy: FaultProxy, regions: list[str], stop: threading.Event, timeout: float = 900.0
) -> None:
    """Wait until ``proxy`` died (or ``stop`` is set), then revive it refusing every call in ``regions``."""
    deadline = time.monotonic() + timeout
    while not proxy.dead and not stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    if proxy.dead:
        proxy.revive(die_at=None, deny={region: "" for region in regions})


@contextlib.contextmanager
def refused_once_dead(proxy: FaultProxy, regions: Iterable[str]) -> Iterator[None]:
    """Within the block (one playbook run), a death of ``proxy`` turns into refusals of ``regions``."""
    stop = threading.Event()
    watcher = threading.Thread(
        target=refuse_everything_once_dead, args=(proxy, list(regions), stop), daemon=True
    )
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=5)
