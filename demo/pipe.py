"""`make demo`: show the pipe working, end to end, after the site run.

One HTTP request to each demo web server (a page that does not exist: the 404 is logged too) and one
authentication event on each host (``logger -p authpriv.notice``, which goes wherever the host's
syslog set-up sends auth messages), then wait, bounded, until each is in its log group on the
embedded AWS, in a stream of that host's agent, and print ``host -> group: event seen after N s``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 90


@dataclass
class Expected:
    host: str  # the demo container
    instance_id: str
    region: str
    group: str
    marker: str
    seen_after: float | None = None


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((HERE / name).read_text())


def instance_id(region: str, container: str) -> str:
    """The EC2 instance the container plays (its tag demo_container), as the inventory sees it."""
    answer = boto3.client("ec2", region_name=region).describe_instances(
        Filters=[
            {"Name": "tag:demo_container", "Values": [container]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )
    ids = [i["InstanceId"] for r in answer["Reservations"] for i in r["Instances"]]
    if len(ids) != 1:
        raise SystemExit(f"pipe: expected one running instance for {container} in {region}, found {ids}")
    return ids[0]


def send(fleet: dict[str, Any], prefix: str, run: str) -> list[Expected]:
    """Send the events; return what must arrive where."""
    out = []
    for inst in fleet["demo_instances"]:
        host, region = inst["name"], inst["region"]
        iid = instance_id(region, host)
        for server in inst["web_servers"]:
            marker = f"/gdpr-demo-{run}-{host}-{server}"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{inst['ports'][server]}{marker}", timeout=5)
            except urllib.error.HTTPError as exc:  # 404 for a page that does not exist: logged all the same
                if exc.code != 404:
                    raise
            out.append(Expected(host, iid, region, f"{prefix}/{server}/access", marker))
        marker = f"gdpr-demo-{run}-{host}-auth"
        podman = shutil.which("podman") or "podman"
        subprocess.run(
            [podman, "exec", host, "logger", "-p", "authpriv.notice", "-t", "gdpr-demo", marker], check=True
        )
        out.append(Expected(host, iid, region, f"{prefix}/system/auth", marker))
    return out


def arrived(client: Any, want: Expected) -> bool:
    """The marker is in the group, in a stream of that host's agent (named after its instance)."""
    events = client.filter_log_events(logGroupName=want.group, filterPattern=f'"{want.marker}"')["events"]
    return any(want.instance_id in e.get("logStreamName", "") for e in events)


def wait(expected: list[Expected], started: float) -> list[Expected]:
    clients = {r: boto3.client("logs", region_name=r) for r in {e.region for e in expected}}
    pending = list(expected)
    while pending and time.monotonic() - started < TIMEOUT_S:
        for want in list(pending):
            if arrived(clients[want.region], want):
                want.seen_after = time.monotonic() - started
                print(f"  {want.host} -> {want.group}: event seen after {want.seen_after:.0f} s", flush=True)
                pending.remove(want)
        if pending:
            time.sleep(1)
    return pending


def main() -> int:
    fleet = load("fleet_vars.yml")
    prefix = f"/gdpr/{load('demo_vars.yml')['gdpr_monitoring_environment']}"
    run = str(int(time.time()))
    print("Logs arriving: a web request to each web server, an auth event on each host")
    started = time.monotonic()
    missing = wait(send(fleet, prefix, run), started)
    for want in missing:
        print(
            f"  {want.host} -> {want.group}: NOT seen within {TIMEOUT_S} s ({want.marker})", file=sys.stderr
        )
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
