"""The controller's IAM policies in docs/iam/ are exactly what the controller plays need.

Each controller play (playbooks/guardduty.yml, log_groups.yml, agent_iam.yml) runs on the embedded
AWS behind the fault proxy (tests/harness/fault_proxy.py, no faults), which logs the IAM action of
every call: ``--check`` on a fresh estate, the first run, the second run (and, for agent_iam, a run
with ``agent_iam_existing_profile=replace``, the only path that replaces an association). The test
fails if the play made a call its policy document does not allow, or if the document allows an
action no run used (except the few the embedded AWS cannot answer, listed in NOT_ON_MOTO with why).

Then, where moto can enforce IAM (a second moto with ``INITIAL_NO_AUTH_ACTION_COUNT``), the
log_groups and agent_iam plays run again as an IAM user holding only their document. GuardDuty
calls fail signature checks under moto's enforcement (measured, /work/shared/ansible-aws-facts.md),
so guardduty.json is proved by the recording only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import moto_server
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
IAM_DOCS = ROOT / "docs" / "iam"
BIN = Path(sys.executable).parent
REGIONS = ["eu-west-1", "eu-central-1"]
ACCOUNT = "123456789012"
# Actions a document must allow although no run here can use them: moto does not implement the
# call (the module's use of it is unit-tested with botocore's Stubber).
NOT_ON_MOTO = {
    "guardduty": {"guardduty:TagResource"},  # HTTP 404 from moto; tags are unit-tested with the Stubber
    "log_groups": {
        "logs:GetDataProtectionPolicy",  # data protection policies: not implemented by moto
        "logs:PutDataProtectionPolicy",
        "logs:AssociateKmsKey",  # only for an existing unencrypted group; not implemented by moto
    },
}
# Permissions AWS checks on the server side of another call, which no client-side log can see:
# EC2 checks iam:PassRole when a profile is associated; GuardDuty's CreateDetector creates its
# service-linked roles (iam:CreateServiceLinkedRole) the first time.
SERVER_SIDE = {
    "agent_iam": {"iam:PassRole"},
    "guardduty": {"iam:CreateServiceLinkedRole"},
}
# Calls that need no IAM permission at all.
NO_PERMISSION = {"sts:GetCallerIdentity"}
# Controller plays and the variables that make them run here (the summary's hosts are EC2 instances).
PLAY_VARS: dict[str, dict[str, Any]] = {
    "guardduty": {"guardduty_regions": REGIONS, "guardduty_region": "eu-west-1"},
    # moto does not implement data protection policies (see NOT_ON_MOTO).
    "log_groups": {"log_groups_data_protection": False},
    "agent_iam": {},
}


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


def play(name: str, inventory: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(inventory),
            "-e",
            json.dumps(PLAY_VARS[name]),
            *args,
            str(ROOT / "playbooks" / f"{name}.yml"),
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
    session = boto3.Session(**{k.lower(): v for k, v in moto_server.DUMMY_CREDENTIALS.items() if "KEY" in k})
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


def drift_agent_role(endpoint: str) -> None:
    """Someone edited the agent role's trust policy by hand: the next run puts it back."""
    session = boto3.Session(**{k.lower(): v for k, v in moto_server.DUMMY_CREDENTIALS.items() if "KEY" in k})
    session.client("iam", endpoint_url=endpoint, region_name="us-east-1").update_assume_role_policy(
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


# A run with other settings after the second run, so that the update paths run too.
UPDATES: dict[str, list[str]] = {
    "guardduty": [
        "-e",
        json.dumps({"guardduty_finding_publishing_frequency": "ONE_HOUR"}),
    ],
    "log_groups": [
        "-e",
        json.dumps({"log_groups_tags": {"ManagedBy": "gdpr.aws_monitoring", "team": "sec"}}),
    ],
    "agent_iam": [
        "-e",
        json.dumps({"agent_iam_role_description": "CloudWatch agent", "agent_iam_tags": {"team": "sec"}}),
    ],
}


def run_sequence(
    name: str, inventory: Path, env: dict[str, str], admin_endpoint: str | None
) -> list[subprocess.CompletedProcess[str]]:
    """--check on the fresh estate, first run, second run, a run with changed settings (agent_iam:
    after its trust policy drifted, then once more replacing existing associations)."""
    runs = [
        play(name, inventory, env, "--check", "--diff"),
        play(name, inventory, env),
        play(name, inventory, env),
    ]
    if name == "agent_iam" and admin_endpoint:
        drift_agent_role(admin_endpoint)
    runs.append(play(name, inventory, env, *UPDATES[name]))
    if name == "agent_iam":
        runs.append(play(name, inventory, env, "-e", "agent_iam_existing_profile=replace"))
    return runs


@pytest.mark.parametrize("name", ["guardduty", "log_groups", "agent_iam"])
def test_policy_allows_exactly_what_the_play_calls(name: str, faulty_aws: Any, tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "hosts.yml", fleet(faulty_aws.endpoint))
    faulty_aws.clear_log()
    runs = run_sequence(name, inventory, env_for(faulty_aws.endpoint), faulty_aws.upstream_endpoint)
    for proc in runs:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "changed=0" in runs[2].stdout, "second run must change nothing"
    used = faulty_aws.actions() - NO_PERMISSION
    allowed = policy_actions(name)
    assert sorted(used - allowed) == [], f"calls docs/iam/{name}.json does not allow; used: {sorted(used)}"
    unused = allowed - used - NOT_ON_MOTO.get(name, set()) - SERVER_SIDE.get(name, set())
    assert sorted(unused) == [], f"docs/iam/{name}.json allows unused actions"


def test_site_policy_is_the_union_of_the_roles_plus_the_inventory() -> None:
    union = set().union(*(policy_actions(name) for name in ("guardduty", "log_groups", "agent_iam")))
    # The amazon.aws.aws_ec2 inventory site.yml runs over (inventory/aws_ec2.yml).
    inventory = {"ec2:DescribeInstances", "ec2:DescribeRegions"}
    assert policy_actions("site") == union | inventory


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

SETUP_CALLS_PER_USER = 4  # CreatePolicy, CreateUser, AttachUserPolicy, CreateAccessKey


@pytest.fixture
def enforcing_moto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A second moto that checks IAM after the setup calls (the fleet and one user)."""
    fleet_calls = 3 + 2  # CreateRole, CreateInstanceProfile, AddRoleToInstanceProfile, two RunInstances
    monkeypatch.setenv("INITIAL_NO_AUTH_ACTION_COUNT", str(fleet_calls + SETUP_CALLS_PER_USER))
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


def user_with_policy(endpoint: str, name: str) -> dict[str, str]:
    session = boto3.Session(**{k.lower(): v for k, v in moto_server.DUMMY_CREDENTIALS.items() if "KEY" in k})
    iam = session.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    document = actions_only(name)
    arn = iam.create_policy(PolicyName=f"gdpr-{name}", PolicyDocument=document)["Policy"]["Arn"]
    iam.create_user(UserName=f"gdpr-{name}")
    iam.attach_user_policy(UserName=f"gdpr-{name}", PolicyArn=arn)
    key = iam.create_access_key(UserName=f"gdpr-{name}")["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


@pytest.mark.parametrize("name", ["log_groups", "agent_iam"])
def test_play_runs_as_a_user_holding_only_its_policy(name: str, enforcing_moto: str, tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "hosts.yml", fleet(enforcing_moto))
    env = env_for(enforcing_moto, user_with_policy(enforcing_moto, name))
    # The first run makes every call the later ones make (the recording test checks all of them).
    for proc in (play(name, inventory, env), play(name, inventory, env)):
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_enforcement_is_on_for_a_user_without_the_policy(enforcing_moto: str, tmp_path: Path) -> None:
    """The enforced runs above prove something: the same play as a user without policy is denied."""
    inventory = write_inventory(tmp_path / "hosts.yml", fleet(enforcing_moto))
    session = boto3.Session(**{k.lower(): v for k, v in moto_server.DUMMY_CREDENTIALS.items() if "KEY" in k})
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
    proc = play("log_groups", inventory, env)
    assert proc.returncode != 0
    assert "AccessDenied" in proc.stdout + proc.stderr
