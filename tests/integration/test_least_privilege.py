"""The controller's IAM policies in docs/iam/ are exactly what the controller plays need.

Each controller play (playbooks/<name>.yml, one entry of PLAYS below) runs on the embedded AWS
behind the fault proxy (tests/harness/fault_proxy.py, no faults), which logs the IAM action of every
call: ``--check`` on a fresh estate, the first run, the second run (changed=0), a run with other
settings (``update_vars``) and any further runs the entry lists. The test fails if the play made a
call docs/iam/<name>.json does not allow, or if the document allows an action no run used (except
the ones the entry lists in ``not_on_moto`` or ``server_side``, each with why).

Where moto can enforce IAM for every service the play calls (``enforced=True``), that moto is one
started with ``INITIAL_NO_AUTH_ACTION_COUNT`` and every one of those runs is made as an IAM user
holding only the document's actions: the same runs prove both directions (nothing missing: moto
refuses what the document lacks; nothing extra: the recording). GuardDuty calls fail signature
checks under moto's enforcement (measured, /work/shared/ansible-aws-facts.md), so guardduty.json is
proved by the recording only, on the session's moto.
docs/iam/site.json must be the union of the documents of the plays site.yml runs, plus the
inventory's two calls.

How to add a controller play (say playbooks/cloudtrail.yml with docs/iam/cloudtrail.json): append
one ``ControllerPlay`` to PLAYS, e.g.::

    ControllerPlay(
        "cloudtrail",
        extra_vars={"cloudtrail_regions": REGIONS},          # what makes it run here
        update_vars={"cloudtrail_tags": {"team": "sec"}},    # a changed setting: the update path
        not_on_moto={"cloudtrail:PutInsightSelectors": "moto lacks it; unit-tested with the Stubber"},
        enforced=True,   # False if moto's IAM enforcement cannot answer one of its services
    ),

A play site.yml does not run sets ``in_site=False``; a path only some setting takes gets a run of
its own in ``more_runs``. The parametrized tests pick the entry up: nothing else in this file needs
editing. A play costs its own runs and nothing else (no container, no extra server).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import fault_proxy
import moto_server
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
IAM_DOCS = ROOT / "docs" / "iam"
BIN = Path(sys.executable).parent
REGIONS = ["eu-west-1", "eu-central-1"]
ACCOUNT = "123456789012"
# Calls that need no IAM permission at all.
NO_PERMISSION = {"sts:GetCallerIdentity"}
# Unauthenticated calls an enforcing moto must allow before it checks IAM (INITIAL_NO_AUTH_ACTION_COUNT).
FLEET_CALLS = 3 + 2  # CreateRole, CreateInstanceProfile, AddRoleToInstanceProfile, two RunInstances
SETUP_CALLS_PER_USER = 4  # CreatePolicy, CreateUser, AttachUserPolicy, CreateAccessKey
ADMIN_SETUP_CALLS = 3  # CreateUser, PutUserPolicy, CreateAccessKey
# The amazon.aws.aws_ec2 inventory site.yml runs over (inventory/aws_ec2.yml).
INVENTORY_ACTIONS = {"ec2:DescribeInstances", "ec2:DescribeRegions"}


def _admin_session() -> boto3.Session:
    return boto3.Session(**{k.lower(): v for k, v in moto_server.DUMMY_CREDENTIALS.items() if "KEY" in k})


def drift_agent_role(admin: boto3.Session, endpoint: str) -> None:
    """Someone edited the agent role's trust policy by hand: the next run puts it back."""
    admin.client("iam", endpoint_url=endpoint, region_name="us-east-1").update_assume_role_policy(
        RoleName="CloudWatchAgentServerRole",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )


def drift_alert_topic(admin: boto3.Session, endpoint: str) -> None:
    """Someone renamed the alert topic by hand: the next run puts its display name back."""
    admin.client("sns", endpoint_url=endpoint, region_name="eu-west-1").set_topic_attributes(
        TopicArn=f"arn:aws:sns:eu-west-1:{ACCOUNT}:gdpr-guardduty-findings",
        AttributeName="DisplayName",
        AttributeValue="renamed",
    )


EXPORT_ON_AWS_ONLY = (
    "the findings export (guardduty_export): moto has no publishing destinations; Stubber-tested"
)


# flow_logs_data_protection is off by default (it would mask the addresses); moto lacks the calls.
FLOW_LOGS_MASKING = "flow_logs_data_protection (off by default); not implemented by moto"


def drift_flow_logs_role(admin: boto3.Session, endpoint: str) -> None:
    """The flow logs role's trust policy and description edited by hand: the next run repairs both."""
    iam = admin.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    iam.update_assume_role_policy(
        RoleName="gdpr-vpc-flow-logs-delivery",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.update_role(RoleName="gdpr-vpc-flow-logs-delivery", Description="edited by hand")


@dataclass(frozen=True)
class ControllerPlay:
    """One controller play, playbooks/<name>.yml, whose policy is docs/iam/<name>.json."""

    name: str
    # -e for every run: what makes the play run here (the fleet is one instance per REGIONS entry).
    extra_vars: dict[str, Any] = field(default_factory=dict)
    # -e for one run after the second run, with other settings, so that the update paths run too.
    update_vars: dict[str, Any] = field(default_factory=dict)
    # Actions the document must allow although no run here can use them: action -> why.
    not_on_moto: dict[str, str] = field(default_factory=dict)
    # Permissions AWS checks on the server side of another call (no client-side log sees them).
    server_side: dict[str, str] = field(default_factory=dict)
    # moto's IAM enforcement answers every service the play calls: the runs are made on an enforcing
    # moto as a user holding only the document.
    enforced: bool = True
    # site.yml runs the play: docs/iam/site.json must include its document.
    in_site: bool = True
    # Called with an admin session and the endpoint past the proxy before the update run.
    before_update: Callable[[boto3.Session, str], None] | None = None
    # -e of further runs after the update run (paths only a non-default setting takes).
    more_runs: tuple[dict[str, Any], ...] = ()

    def __str__(self) -> str:
        return self.name


PLAYS: list[ControllerPlay] = [
    ControllerPlay(
        "guardduty",
        extra_vars={"guardduty_regions": REGIONS, "guardduty_region": "eu-west-1"},
        update_vars={"guardduty_finding_publishing_frequency": "ONE_HOUR"},
        not_on_moto={"guardduty:TagResource": "HTTP 404 from moto; tags are unit-tested with the Stubber"},
        server_side={"iam:CreateServiceLinkedRole": "CreateDetector creates the service-linked roles"},
        enforced=False,  # GuardDuty calls fail moto's signature checks under enforcement
    ),
    ControllerPlay(
        "log_groups",
        extra_vars={"log_groups_data_protection": False},  # moto lacks data protection policies
        update_vars={"log_groups_tags": {"ManagedBy": "gdpr.aws_monitoring", "team": "sec"}},
        not_on_moto={
            "logs:GetDataProtectionPolicy": "data protection policies: not implemented by moto",
            "logs:PutDataProtectionPolicy": "data protection policies: not implemented by moto",
            "logs:AssociateKmsKey": "only for an existing unencrypted group; not implemented by moto",
        },
    ),
    ControllerPlay(
        "agent_iam",
        update_vars={"agent_iam_role_description": "CloudWatch agent", "agent_iam_tags": {"team": "sec"}},
        server_side={"iam:PassRole": "EC2 checks it when a profile is associated"},
        before_update=drift_agent_role,
        # the only path that replaces an existing association
        more_runs=({"agent_iam_existing_profile": "replace"},),
    ),
    ControllerPlay(
        "flow_logs",
        extra_vars={
            "flow_logs_all_vpcs": True,
            "flow_logs_regions": REGIONS,
        },  # the hosts here have no vpc_id
        update_vars={"flow_logs_tags": {"ManagedBy": "gdpr.aws_monitoring", "team": "sec"}},
        before_update=drift_flow_logs_role,
        not_on_moto={
            "logs:AssociateKmsKey": "only for an existing unencrypted group; not implemented by moto",
            "logs:GetDataProtectionPolicy": FLOW_LOGS_MASKING,
            "logs:PutDataProtectionPolicy": FLOW_LOGS_MASKING,
        },
        server_side={
            "iam:PassRole": "EC2 checks it when CreateFlowLogs names the delivery role",
            "ec2:CreateTags": "CreateFlowLogs with TagSpecifications",
        },
        enforced=False,  # not measured whether moto's enforcement answers EC2 flow logs and KMS alike
    ),
    ControllerPlay(
        "guardduty_response",
        extra_vars={
            "guardduty_regions": REGIONS,
            "guardduty_home_region": "eu-west-1",
            "guardduty_export": False,
            "guardduty_alert_subscriptions": [{"protocol": "email", "endpoint": "dpo@example.com"}],
        },
        update_vars={
            "guardduty_alert_severity": "MEDIUM",
            "guardduty_alert_subscriptions": [{"protocol": "email", "endpoint": "oncall@example.com"}],
        },
        before_update=drift_alert_topic,
        not_on_moto={
            action: EXPORT_ON_AWS_ONLY
            for action in (
                "guardduty:ListDetectors",
                "guardduty:ListPublishingDestinations",
                "guardduty:DescribePublishingDestination",
                "guardduty:CreatePublishingDestination",
                "guardduty:UpdatePublishingDestination",
                "s3:CreateBucket",
                "s3:ListBucket",
                "s3:GetBucketLocation",
                "s3:GetBucketTagging",
                "s3:PutBucketTagging",
                "s3:GetBucketPublicAccessBlock",
                "s3:PutBucketPublicAccessBlock",
                "s3:GetBucketOwnershipControls",
                "s3:PutBucketOwnershipControls",
                "s3:GetEncryptionConfiguration",
                "s3:PutEncryptionConfiguration",
                "s3:GetBucketPolicy",
                "s3:PutBucketPolicy",
                "s3:GetLifecycleConfiguration",
                "s3:PutLifecycleConfiguration",
                "s3:GetBucketVersioning",
                "s3:PutBucketVersioning",
            )
        },
        server_side={
            "iam:PassRole": "EventBridge checks it when a rule's target names the forwarder role",
            "iam:TagRole": "CreateRole with tags",
            "events:TagResource": "PutRule with tags",
            "sns:TagResource": "CreateTopic with tags",
            "kms:TagResource": "CreateKey with tags",
        },
        enforced=False,  # not measured whether moto's enforcement answers EventBridge and SNS alike
    ),
    ControllerPlay(
        "cloudtrail",
        extra_vars={
            "cloudtrail_home_region": "eu-west-1",
            "cloudtrail_data_event_buckets": ["customer-records"],
            "cloudtrail_retention_days": 400,
            "log_groups_data_protection": False,  # moto lacks data protection policies
        },
        # The update paths: the trail (UpdateTrail, AddTags, PutEventSelectors), the bucket's
        # lifecycle and tags, the key's policy and tags, the role's tags, the log group's tags.
        update_vars={
            "cloudtrail_s3_key_prefix": "trail",
            "cloudtrail_data_event_buckets": ["customer-records", "hr-records"],
            "cloudtrail_retention_days": 500,
            "cloudtrail_key_readers": [f"arn:aws:iam::{ACCOUNT}:role/auditor"],
            "cloudtrail_tags": {"ManagedBy": "gdpr.aws_monitoring", "team": "sec"},
            "log_groups_tags": {"ManagedBy": "gdpr.aws_monitoring", "team": "sec"},
        },
        not_on_moto={
            "logs:AssociateKmsKey": "only for an existing unencrypted group; not implemented by moto",
            "logs:GetDataProtectionPolicy": "data protection policies: not implemented by moto",
            "logs:PutDataProtectionPolicy": "data protection policies: not implemented by moto",
        },
        server_side={
            "iam:PassRole": "CloudTrail checks it when CreateTrail/UpdateTrail names the delivery role",
        },
        enforced=False,  # not measured whether moto's enforcement answers CloudTrail and S3 alike
    ),
    ControllerPlay(
        "config_recorder",
        extra_vars={"config_recorder_regions": REGIONS, "config_recorder_home_region": "eu-west-1"},
        update_vars={
            "config_recorder_delivery_frequency": "Six_Hours",
            "config_recorder_retention_days": 500,
            "config_recorder_tags": {"ManagedBy": "gdpr.aws_monitoring", "team": "sec"},
        },
        server_side={
            "iam:PassRole": "Config checks it when PutConfigurationRecorder names the role",
        },
        enforced=False,  # not measured whether moto's enforcement answers Config and S3 alike
    ),
]
BY_NAME = {p.name: p for p in PLAYS}


def policy_actions(name: str) -> set[str]:
    document = json.loads((IAM_DOCS / f"{name}.json").read_text())
    actions: set[str] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def env_for(endpoint: str, credentials: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(moto_server.endpoint_env(endpoint))
    env.update(credentials or {})
    env.update(
        {
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": sysconfig.get_paths()["purelib"],
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
        }
    )
    return env


def write_inventory(path: Path, instances: dict[str, tuple[str, str]]) -> Path:
    """Hosts as the aws_ec2 inventory names them (no connection is ever made by these plays)."""
    hosts = {
        name: {"instance_id": instance_id, "placement": {"region": region}, "ansible_host": "127.0.0.1"}
        for name, (instance_id, region) in instances.items()
    }
    path.write_text(
        yaml.safe_dump({"all": {"children": {"linux": {"hosts": hosts}, "windows": {"hosts": {}}}}})
    )
    return path


def play(
    entry: ControllerPlay, inventory: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(inventory),
            "-e",
            json.dumps(entry.extra_vars),
            *args,
            str(ROOT / "playbooks" / f"{entry.name}.yml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    return proc


def fleet(endpoint: str) -> dict[str, tuple[str, str]]:
    """One instance per region; the one in eu-central-1 has an application profile of its own."""
    session = _admin_session()
    iam = session.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    iam.create_role(
        RoleName="AppRole",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.create_instance_profile(InstanceProfileName="AppProfile")
    iam.add_role_to_instance_profile(InstanceProfileName="AppProfile", RoleName="AppRole")
    instances = {}
    for region, profile in (("eu-west-1", None), ("eu-central-1", "AppProfile")):
        ec2 = session.client("ec2", endpoint_url=endpoint, region_name=region)
        extra = {"IamInstanceProfile": {"Name": profile}} if profile else {}
        answer = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, **extra)
        instances[f"web-{region}"] = (answer["Instances"][0]["InstanceId"], region)
    return instances


def run_sequence(
    entry: ControllerPlay, inventory: Path, env: dict[str, str], admin: boto3.Session, admin_endpoint: str
) -> dict[str, subprocess.CompletedProcess[str]]:
    """--check on the fresh estate, first run, second run, a run with changed settings, then the
    entry's further runs, by name."""
    runs = {
        "check": play(entry, inventory, env, "--check", "--diff"),
        "first": play(entry, inventory, env),
        "second": play(entry, inventory, env),
    }
    if entry.before_update:
        entry.before_update(admin, admin_endpoint)
    runs["update"] = play(entry, inventory, env, "-e", json.dumps(entry.update_vars))
    for number, more in enumerate(entry.more_runs, 1):
        runs[f"more {number}"] = play(entry, inventory, env, "-e", json.dumps(more))
    return runs


@dataclass
class Estate:
    """Where a play's runs go: the proxy that records them, the credentials they are made with, and
    an admin session for changes behind the play's back (both past the proxy)."""

    proxy: Any
    credentials: dict[str, str]
    admin: boto3.Session
    inventory: Path


@pytest.fixture
def estate(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Estate]:
    """A fresh estate (the fleet) for the play ``request.param``: on the session moto with the dummy
    credentials, or, for an enforced play, on an IAM-enforcing moto as a user holding only the play's
    document (an admin user for the changes behind its back)."""
    entry: ControllerPlay = request.param
    if not entry.enforced:
        faulty_aws = request.getfixturevalue("faulty_aws")
        inventory = write_inventory(tmp_path / "hosts.yml", fleet(faulty_aws.endpoint))
        faulty_aws.clear_log()
        yield Estate(faulty_aws, {}, _admin_session(), inventory)
        return
    setup_calls = FLEET_CALLS + SETUP_CALLS_PER_USER + ADMIN_SETUP_CALLS
    monkeypatch.setenv("INITIAL_NO_AUTH_ACTION_COUNT", str(setup_calls))
    with moto_server.running(log_path=tmp_path / "moto-enforcing.log") as endpoint:
        inventory = write_inventory(tmp_path / "hosts.yml", fleet(endpoint))
        credentials = user_with_policy(endpoint, entry.name)
        admin = admin_user(endpoint)
        with fault_proxy.FaultProxy(endpoint, log_path=tmp_path / "operations.jsonl") as proxy:
            yield Estate(proxy, credentials, admin, inventory)


@pytest.mark.parametrize("estate", PLAYS, ids=str, indirect=True)
def test_policy_allows_exactly_what_the_play_calls(estate: Estate, request: pytest.FixtureRequest) -> None:
    entry: ControllerPlay = request.node.callspec.params["estate"]
    name = entry.name
    env = env_for(estate.proxy.endpoint, estate.credentials)
    runs = run_sequence(entry, estate.inventory, env, estate.admin, estate.proxy.upstream_endpoint)
    for run, proc in runs.items():
        assert proc.returncode == 0, f"{run} run: " + proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "changed=0" in runs["second"].stdout, "second run must change nothing"
    assert estate.proxy.unidentified_calls() == set(), "calls whose IAM action the proxy cannot name"
    used = estate.proxy.actions() - NO_PERMISSION
    allowed = policy_actions(name)
    assert sorted(used - allowed) == [], f"calls docs/iam/{name}.json does not allow; used: {sorted(used)}"
    unused = allowed - used - set(entry.not_on_moto) - set(entry.server_side)
    assert sorted(unused) == [], f"docs/iam/{name}.json allows unused actions"


# Plays site.yml runs whose documents are not yet proved by a recording above (each with why).
# site.json must still include them: without their actions a site.yml run under site.json fails.
UNRECORDED_SITE_PLAYS: dict[str, str] = {}


def test_site_policy_is_the_union_of_the_roles_plus_the_inventory() -> None:
    names = {p.name for p in PLAYS if p.in_site} | set(UNRECORDED_SITE_PLAYS)
    union = set().union(*(policy_actions(name) for name in names))
    assert policy_actions("site") == union | INVENTORY_ACTIONS


def test_documents_scope_resources_where_iam_allows() -> None:
    """Writes to IAM, KMS and CloudWatch Logs are scoped to the collection's names, never '*'."""
    scoped_prefixes = {
        "iam:CreateRole": "arn:aws:iam::*:role/",
        "iam:CreateInstanceProfile": "arn:aws:iam::*:instance-profile/",
        "logs:CreateLogGroup": "arn:aws:logs:*:*:log-group:/gdpr/",
        "kms:CreateAlias": "arn:aws:kms:*:*:alias/gdpr-monitoring-logs",
    }
    statements = [
        s
        for name in ("log_groups", "agent_iam")
        for s in json.loads((IAM_DOCS / f"{name}.json").read_text())["Statement"]
    ]
    for action, prefix in scoped_prefixes.items():
        resources = [
            r
            for s in statements
            if action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
            for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
        ]
        assert any(r.startswith(prefix) for r in resources), (action, resources)
        assert "*" not in resources, (action, resources)


# --- enforced: the plays as a user holding only the document ---------------------------------------


@pytest.fixture
def enforcing_moto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A second moto that checks IAM after the setup calls (the fleet and one user)."""
    monkeypatch.setenv("INITIAL_NO_AUTH_ACTION_COUNT", str(FLEET_CALLS + SETUP_CALLS_PER_USER))
    with moto_server.running(log_path=tmp_path / "moto-enforcing.log") as endpoint:
        yield endpoint


def actions_only(name: str) -> str:
    """The document's actions on every resource, without conditions.

    moto's enforcement matches a statement's Resource against what it thinks the call's resource is,
    which for most calls is not the ARN AWS uses (measured: ``logs:DescribeLogGroups`` on
    ``arn:aws:logs:*:*:log-group:*`` and ``iam:GetPolicy`` on ``arn:aws:iam::aws:policy/*`` are
    denied), so it can prove the set of actions, not the scoping (see the scoping test above).
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": sorted(policy_actions(name)), "Resource": "*"}],
        }
    )


def admin_user(endpoint: str) -> boto3.Session:
    """A user allowed everything, for the changes made behind a play's back on an enforcing moto."""
    iam = _admin_session().client("iam", endpoint_url=endpoint, region_name="us-east-1")
    iam.create_user(UserName="gdpr-test-admin")
    iam.put_user_policy(
        UserName="gdpr-test-admin",
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName="gdpr-test-admin")["AccessKey"]
    return boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])


def user_with_policy(endpoint: str, name: str) -> dict[str, str]:
    session = _admin_session()
    iam = session.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    document = actions_only(name)
    arn = iam.create_policy(PolicyName=f"gdpr-{name}", PolicyDocument=document)["Policy"]["Arn"]
    iam.create_user(UserName=f"gdpr-{name}")
    iam.attach_user_policy(UserName=f"gdpr-{name}", PolicyArn=arn)
    key = iam.create_access_key(UserName=f"gdpr-{name}")["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def test_enforcement_is_on_for_a_user_without_the_policy(enforcing_moto: str, tmp_path: Path) -> None:
    """The enforced runs above prove something: the same play as a user without policy is denied."""
    inventory = write_inventory(tmp_path / "hosts.yml", fleet(enforcing_moto))
    session = _admin_session()
    iam = session.client("iam", endpoint_url=enforcing_moto, region_name="us-east-1")
    iam.create_user(UserName="nobody")
    key = iam.create_access_key(UserName="nobody")["AccessKey"]
    # Two setup calls instead of four: the next two (failing) calls are still unauthenticated; burn them.
    iam.list_users()
    iam.list_users()
    env = env_for(
        enforcing_moto,
        {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]},
    )
    proc = play(BY_NAME["log_groups"], inventory, env)
    assert proc.returncode != 0
    assert "AccessDenied" in proc.stdout + proc.stderr
