"""Exit 0 when a CloudWatch Logs stream holds events: `log_events_exist.py REGION GROUP STREAM`.

Asks for the events themselves (FilterLogEvents on that one stream), not the stream's
lastEventTimestamp, which CloudWatch documents as updated "typically in less than an hour".
amazon.aws has no log events module; boto3 is on the controller for amazon.aws anyway.
"""

from __future__ import annotations

import sys
from typing import Any

import boto3


def first_event(logs: Any, group: str, stream: str) -> dict | None:
    # FilterLogEvents may answer a page without events but with a nextToken: follow the pages.
    args = {"logGroupName": group, "logStreamNames": [stream], "limit": 1}
    for _page in range(50):
        answer = logs.filter_log_events(**args)
        if answer.get("events"):
            return answer["events"][0]
        if not answer.get("nextToken"):
            return None
        args["nextToken"] = answer["nextToken"]
    return None


def main(region: str, group: str, stream: str) -> int:
    logs = boto3.client("logs", region_name=region)
    try:
        event = first_event(logs, group, stream)
    except logs.exceptions.ResourceNotFoundException:
        event = None
    found = [event] if event else []
    if found:
        print(f"{group} {stream}: event at {found[0]['timestamp']}: {found[0]['message'][:200]}")
        return 0
    print(f"{group} {stream}: no events yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
