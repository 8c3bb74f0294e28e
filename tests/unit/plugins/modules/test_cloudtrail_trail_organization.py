"""gdpr.aws_monitoring.cloudtrail_trail with organization_trail (issue 14: "an organization trail when run
from the management account, off by default"), in-process against the embedded AWS (``aws`` fixture).

The default makes an account trail; ``organization_trail: true`` makes an organization trail, and
turns the collection's account trail into one in place (UpdateTrail), never a second trail; the next
run changes nothing. moto does not check that the caller is the organization's management account
(AWS refuses CreateTrail/UpdateTrail with IsOrganizationTrail otherwise).
"""

from __future__ import annotations

from typing import Any

import boto3
from module_run import ModuleExit, run_main

from ansible_collections.gdpr.aws_monitoring.plugins.modules import cloudtrail_trail as module

REGION = "eu-west-1"
BUCKET = "gdpr-cloudtrail-123456789012-eu-west-1"


def run(**extra: Any) -> ModuleExit:
    args = {"name": "gdpr-trail", "region": REGION, "s3_bucket_name": BUCKET, **extra}
    return run_main(module, args)


def trails() -> list[tuple[str, bool]]:
    listed = boto3.client("cloudtrail", region_name=REGION).describe_trails()["trailList"]
    return [(t["Name"], bool(t.get("IsOrganizationTrail"))) for t in listed]


def test_organization_trail_is_off_by_default_and_set_in_place_when_asked(aws) -> None:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    account = run()
    assert not account.failed, account.result["msg"]
    assert trails() == [("gdpr-trail", False)]

    organization = run(organization_trail=True)
    assert not organization.failed, organization.result["msg"]
    assert organization.result["changed"]
    assert trails() == [("gdpr-trail", True)]

    again = run(organization_trail=True)
    assert not again.failed and not again.result["changed"], again.result
