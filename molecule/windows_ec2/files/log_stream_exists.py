"""Exit 0 when a CloudWatch Logs stream exists and holds events: `log_stream_exists.py REGION GROUP STREAM`.

amazon.aws has no log stream info module; boto3 is on the controller for amazon.aws anyway.
"""

from __future__ import annotations

import sys

import boto3


def main(region: str, group: str, stream: str) -> int:
    logs = boto3.client("logs", region_name=region)
    found = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)["logStreams"]
    for entry in found:
        if entry["logStreamName"] == stream and entry.get("lastEventTimestamp"):
            print(f"{group} {stream}: last event at {entry['lastEventTimestamp']}")
            return 0
    print(f"{group} {stream}: no events yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
