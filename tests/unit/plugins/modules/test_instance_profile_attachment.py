"""Unit tests of gdpr.aws_monitoring.instance_profile_attachment.

Planning is tested as pure functions beside its code (tests/unit/plugins/module_utils/
test_instance_profiles_plan.py). Whole runs (`Attachment.run`, the module's core without the
Ansible wrapper) go against the embedded AWS (moto) through the `aws` fixture. Moto never shows an
association in the `associating`/`disassociating` state, so waiting for those is tested with
botocore's Stubber at the API boundary (real clients that validate every request against the EC2
model).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.stub import Stubber
from instance_profile_data import (
    AGENT,
    AGENT_POLICY,
    LEGACY,
    S3_POLICY,
    SSM_POLICY,
    TARGET,
    association,
)

from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.gdpr.aws_monitoring.plugins.filter.agent_iam import play_targets
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import retry_decorator
from ansible_collections.gdpr.aws_monitoring.plugins.modules import instance_profile_attachment as mod

# --- the play-targets filter ---------------------------------------------------------------------


def test_play_targets_come_from_aws_ec2_hostvars():
    hostvars = {
        "web1": {"instance_id": "i-1", "placement": {"region": "eu-west-1"}},
        "web2": {"instance_id": "i-2"},
    }
    assert play_targets(["web1", "web2"], hostvars, "eu-central-1") == [
        {"instance_id": "i-1", "region": "eu-west-1"},
        {"instance_id": "i-2", "region": "eu-central-1"},
    ]


def test_play_targets_name_every_host_that_is_not_an_instance():
    from ansible.errors import AnsibleFilterError

    hostvars = {"localhost": {}, "db": {"instance_id": ""}, "web": {"instance_id": "i-1"}}
    with pytest.raises(AnsibleFilterError) as failure:
        play_targets(["localhost", "db", "web"], hostvars, None)
    message = str(failure.value)
    assert "localhost, db" in message
    assert "web" in message  # no region for it either
    assert "agent_iam_instances" in message


# --- waiting for associations in progress (Stubber: moto has no such state) -----------------------


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


def stubbed_ec2():
    client = boto3.client(
        "ec2",
        region_name="eu-west-1",
        endpoint_url="https://ec2.invalid",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    return client, Stubber(client)


def describe_response(*associations):
    return {"IamInstanceProfileAssociations": list(associations)}


def test_associations_in_progress_are_waited_for():
    client, stub = stubbed_ec2()
    filters = {"Filters": [{"Name": "instance-id", "Values": ["i-1", "i-2"]}], "MaxResults": mod.PAGE_SIZE}
    stub.add_response(
        "describe_iam_instance_profile_associations",
        describe_response(
            association("i-1", state="associating"), association("i-2", LEGACY, "disassociated")
        ),
        filters,
    )
    stub.add_response(
        "describe_iam_instance_profile_associations",
        describe_response(association("i-1", state="associated")),
        {"Filters": [{"Name": "instance-id", "Values": ["i-1"]}], "MaxResults": mod.PAGE_SIZE},
    )
    clock = FakeClock()
    start = {
        "i-1": association("i-1", state="associating"),
        "i-2": association("i-2", state="disassociating"),
    }
    with stub:
        settled = mod.wait_settled(client, start, 60, clock.sleep, clock)
        stub.assert_no_pending_responses()
    assert settled == {"i-1": association("i-1", state="associated")}  # i-2 lost its profile
    assert clock.sleeps == [mod.POLL_DELAY, mod.POLL_DELAY]


def test_waiting_gives_up_after_the_timeout_naming_the_instances():
    client, stub = stubbed_ec2()
    for _attempt in range(3):
        stub.add_response(
            "describe_iam_instance_profile_associations",
            describe_response(association("i-1", state="associating")),
        )
    clock = FakeClock()
    with stub, pytest.raises(mod.PlanError, match=r"in progress.*i-1"):
        mod.wait_settled(client, {"i-1": association("i-1", state="associating")}, 12, clock.sleep, clock)


def test_stopped_instance_is_disassociated_waited_for_and_associated():
    client, stub = stubbed_ec2()
    current = association("i-1", LEGACY, aid="iip-assoc-old")
    stub.add_response(
        "disassociate_iam_instance_profile",
        {"IamInstanceProfileAssociation": {**current, "State": "disassociating"}},
        {"AssociationId": "iip-assoc-old"},
    )
    stub.add_response(
        "describe_iam_instance_profile_associations",
        describe_response({**current, "State": "disassociating"}),
        {"AssociationIds": ["iip-assoc-old"]},
    )
    stub.add_response(
        "describe_iam_instance_profile_associations",
        describe_response({**current, "State": "disassociated"}),
        {"AssociationIds": ["iip-assoc-old"]},
    )
    stub.add_response(
        "associate_iam_instance_profile",
        {"IamInstanceProfileAssociation": association("i-1", AGENT, "associating", "iip-assoc-new")},
        {"IamInstanceProfile": {"Arn": AGENT}, "InstanceId": "i-1"},
    )
    plan = mod.plan_instance("i-1", "eu-west-1", "stopped", current, TARGET, "replace")
    wrapped = RetryingBotoClientWrapper(client, retry_decorator())
    sleeps = []
    with stub:
        mod.apply_instance(wrapped, plan, TARGET, 60, sleeps.append)
        stub.assert_no_pending_responses()
    assert sleeps == [mod.POLL_DELAY]


# --- whole runs against the embedded AWS ---------------------------------------------------------

# One of moto's bundled AMIs (present in every region); listing them all costs moto seconds.
MOTO_AMI = "ami-1e749f67"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


class Estate:
    """A small fleet in moto, and the instrumented clients the module's core runs with.

    The module's tests share one embedded AWS (``shared_aws``: one reset, not one per test), so an
    estate's roles, profiles and opt-in tag value carry a number of its own: no test sees another's.
    """

    def __init__(self, number: int):
        self.agent = f"CloudWatchAgentServerRole{number}"
        self.legacy_role = f"LegacyAppRole{number}"
        self.legacy_profile = f"LegacyAppProfile{number}"
        self.opt_in = {"gdpr_monitoring": f"true-{number}"}
        self.opt_in_filter = {"tag:gdpr_monitoring": self.opt_in["gdpr_monitoring"]}
        self.session = boto3.session.Session()
        self.calls = Counter()
        self.session.events.register("before-call", self._count)
        self.iam = self.session.client("iam", region_name="us-east-1")
        self.instances: dict[str, list[str]] = {}
        self.clients = {}

    def _count(self, model, **_):
        self.calls[model.name] += 1

    def ec2(self, region):
        if region not in self.clients:
            self.clients[region] = self.session.client("ec2", region_name=region)
        return self.clients[region]

    def role(self, name, policies=(), profile=None):
        self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
        for arn in policies:
            self.iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        if profile:
            self.iam.create_instance_profile(InstanceProfileName=profile)
            self.iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=name)

    def launch(self, region, count=1, tags=None, profile=None):
        ec2 = self.ec2(region)
        params = {"ImageId": MOTO_AMI, "MinCount": count, "MaxCount": count}
        if tags:
            params["TagSpecifications"] = [
                {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ]
        ids = [i["InstanceId"] for i in ec2.run_instances(**params)["Instances"]]
        for instance_id in ids if profile else []:
            ec2.associate_iam_instance_profile(InstanceId=instance_id, IamInstanceProfile={"Name": profile})
        self.instances.setdefault(region, []).extend(ids)
        return ids

    def profile_of(self, region, instance_id):
        found = self.ec2(region).describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [instance_id]}]
        )["IamInstanceProfileAssociations"]
        active = [a for a in found if a["State"] != "disassociated"]
        return mod.profile_name_from_arn(active[0]["IamInstanceProfile"]["Arn"]) if active else None

    def policies(self, role):
        return sorted(
            p["PolicyArn"] for p in self.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        )

    def snapshot(self):
        return {
            "associations": {r: {i: self.profile_of(r, i) for i in ids} for r, ids in self.instances.items()},
            "roles": {
                r["RoleName"]: self.policies(r["RoleName"])
                for page in self.iam.get_paginator("list_roles").paginate()
                for r in page["Roles"]
            },
        }

    def run(self, check_mode=False, **params):
        base = {
            "instance_profile": self.agent,
            "instance_profile_path": "/",
            "instances": [],
            "filters": {},
            "regions": [],
            "existing_profile": "extend",
            "policies": [AGENT_POLICY, SSM_POLICY],
            "wait_timeout": 5,
        }
        base.update(params)
        request = mod.request_from_params(base, "eu-west-1")
        clients = {r: RetryingBotoClientWrapper(self.ec2(r), retry_decorator()) for r in request.regions}
        iam = RetryingBotoClientWrapper(self.iam, retry_decorator())
        sts = RetryingBotoClientWrapper(
            self.session.client("sts", region_name="us-east-1"), retry_decorator()
        )
        self.calls.clear()
        outcome = mod.Attachment(request, clients, iam, check_mode, sts=lambda: sts).run()
        assert outcome.errors == []
        return outcome.result()


ESTATES = itertools.count()


@pytest.fixture
def estate(shared_aws):
    e = Estate(next(ESTATES))
    e.role(e.agent, [AGENT_POLICY, SSM_POLICY], profile=e.agent)
    e.role(e.legacy_role, [S3_POLICY], profile=e.legacy_profile)
    return e


def targets(estate, regions=None):
    return [
        {"instance_id": i, "region": r}
        for r, ids in estate.instances.items()
        if regions is None or r in regions
        for i in ids
    ]


def by_id(result):
    return {i["instance_id"]: i for i in result["instances"]}


def test_default_run_associates_and_extends_shared_legacy_role_once(estate):
    plain = estate.launch("eu-west-1", 2) + estate.launch("eu-central-1", 1)
    legacy = estate.launch("eu-west-1", 2, profile=estate.legacy_profile)

    result = estate.run(instances=targets(estate))

    assert result["changed"] is True
    assert result["counts"] == {"associated": 3, "replaced": 0, "extended": 2, "skipped": 0, "unchanged": 0}
    assert result["roles_extended"] == {estate.legacy_role: [AGENT_POLICY, SSM_POLICY]}
    # IAM is global: two instances share the role, each policy is attached once.
    assert estate.calls["AttachRolePolicy"] == 2
    assert estate.calls["AssociateIamInstanceProfile"] == 3
    assert estate.calls["ReplaceIamInstanceProfileAssociation"] == 0
    assert estate.calls["DescribeInstances"] == 2  # once per region
    assert estate.calls["DescribeIamInstanceProfileAssociations"] == 2
    for region, ids in estate.instances.items():
        for instance_id in ids:
            expected = estate.legacy_profile if instance_id in legacy else estate.agent
            assert estate.profile_of(region, instance_id) == expected
    assert estate.policies(estate.legacy_role) == sorted([S3_POLICY, AGENT_POLICY, SSM_POLICY])
    row = by_id(result)[legacy[0]]
    assert (row["action"], row["before"], row["after"]) == ("extended", row["before"], row["before"])
    assert row["before"].endswith(f":instance-profile/{estate.legacy_profile}")
    assert by_id(result)[plain[0]]["before"] is None


def test_second_run_changes_nothing_and_only_reads_once_per_region(estate):
    estate.launch("eu-west-1", 3)
    estate.launch("eu-central-1", 2, profile=estate.legacy_profile)
    estate.run(instances=targets(estate))

    again = estate.run(instances=targets(estate))

    assert again["changed"] is False
    assert again["counts"]["unchanged"] == 5
    assert again["diff"] == {
        "before": {"instances": {}, "roles": {}},
        "after": {"instances": {}, "roles": {}},
    }
    writes = {"AssociateIamInstanceProfile", "ReplaceIamInstanceProfileAssociation", "AttachRolePolicy"}
    assert not writes & set(estate.calls)
    assert estate.calls["DescribeInstances"] == 2


def test_check_mode_changes_nothing_and_predicts_the_real_run(estate):
    estate.launch("eu-west-1", 2)
    estate.launch("eu-central-1", 1, profile=estate.legacy_profile)
    before = estate.snapshot()

    predicted = estate.run(check_mode=True, instances=targets(estate))

    assert estate.snapshot() == before
    assert predicted["changed"] is True
    real = estate.run(instances=targets(estate))
    assert predicted["instances"] == real["instances"]
    assert predicted["diff"] == real["diff"]


def test_replace_is_explicit_and_handles_running_and_stopped_instances(estate):
    running = estate.launch("eu-west-1", 1, profile=estate.legacy_profile)[0]
    stopped = estate.launch("eu-west-1", 1, profile=estate.legacy_profile)[0]
    estate.ec2("eu-west-1").stop_instances(InstanceIds=[stopped])

    result = estate.run(instances=targets(estate), existing_profile="replace")

    assert result["counts"]["replaced"] == 2
    assert estate.calls["ReplaceIamInstanceProfileAssociation"] == 1
    assert estate.calls["DisassociateIamInstanceProfile"] == 1
    assert estate.calls["AssociateIamInstanceProfile"] == 1
    assert estate.profile_of("eu-west-1", running) == estate.agent
    assert estate.profile_of("eu-west-1", stopped) == estate.agent
    assert estate.policies(estate.legacy_role) == [S3_POLICY]  # not extended when replaced
    assert by_id(result)[stopped]["state"] == "stopped"


def test_skip_leaves_instances_with_a_profile_alone(estate):
    legacy = estate.launch("eu-west-1", 1, profile=estate.legacy_profile)[0]
    plain = estate.launch("eu-west-1", 1)[0]

    result = estate.run(instances=targets(estate), existing_profile="skip")

    assert by_id(result)[legacy]["action"] == "skipped"
    assert by_id(result)[plain]["action"] == "associated"
    assert estate.profile_of("eu-west-1", legacy) == estate.legacy_profile
    assert estate.policies(estate.legacy_role) == [S3_POLICY]


def test_unknown_instance_fails_before_any_change(estate):
    estate.launch("eu-west-1", 2)
    estate.launch("eu-central-1", 1)
    before = estate.snapshot()
    wanted = [*targets(estate), {"instance_id": "i-0000000000000dead", "region": "eu-central-1"}]

    with pytest.raises(mod.PlanError, match=r"eu-central-1: unknown instance\(s\) i-0000000000000dead"):
        estate.run(instances=wanted)
    assert estate.snapshot() == before


def test_terminated_instance_fails_before_any_change(estate):
    gone = estate.launch("eu-west-1", 1)[0]
    estate.launch("eu-west-1", 1)
    estate.ec2("eu-west-1").terminate_instances(InstanceIds=[gone])
    before = estate.snapshot()

    with pytest.raises(mod.PlanError, match=re.escape(f"{gone} (terminated)")):
        estate.run(instances=targets(estate))
    assert estate.snapshot() == before


def test_filters_pick_tagged_instances_in_the_listed_regions_only(estate):
    west = estate.launch("eu-west-1", 2, tags=estate.opt_in)
    central = estate.launch("eu-central-1", 1, tags=estate.opt_in)
    untagged = estate.launch("eu-west-1", 1)[0]
    elsewhere = estate.launch("us-west-2", 1, tags=estate.opt_in)[0]

    result = estate.run(filters=estate.opt_in_filter, regions=["eu-west-1", "eu-central-1"])

    assert sorted(by_id(result)) == sorted(west + central)
    assert estate.profile_of("eu-west-1", untagged) is None
    assert estate.profile_of("us-west-2", elsewhere) is None


def test_missing_profile_fails_unless_check_mode_which_predicts_its_arn(estate):
    instance = estate.launch("eu-west-1", 1)[0]
    with pytest.raises(mod.PlanError, match="NewAgentRole does not exist"):
        estate.run(instances=targets(estate), instance_profile="NewAgentRole")

    result = estate.run(
        check_mode=True,
        instances=targets(estate),
        instance_profile="NewAgentRole",
        instance_profile_path="/agents/",
    )
    account = boto3.client("sts", region_name="us-east-1").get_caller_identity()["Account"]
    expected = f"arn:aws:iam::{account}:instance-profile/agents/NewAgentRole"
    assert result["instance_profile_arn"] == expected
    assert by_id(result)[instance]["after"] == expected
    assert estate.profile_of("eu-west-1", instance) is None


# --- regions: named by the user, so never "refused"; unknown ones rejected first ----------------


@pytest.mark.parametrize(
    "code", ["UnrecognizedClientException", "AuthFailure", "OptInRequired", "AccessDenied"]
)
def test_filter_region_that_refuses_fails_the_run_before_any_change(estate, code):
    """Issue 10: an agent_iam filter region that refused was skipped with rc=0 and its opted-in
    instances got no role. The refusing region is a Stubber-backed client (moto cannot refuse)."""
    west = estate.launch("eu-west-1", 1, tags=estate.opt_in)[0]
    refusing = boto3.client("ec2", region_name="me-south-1")
    stub = Stubber(refusing)
    stub.add_client_error("describe_instances", service_error_code=code, http_status_code=401)
    stub.activate()
    request = mod.request_from_params(
        {
            "instance_profile": estate.agent,
            "instance_profile_path": "/",
            "instances": [],
            "filters": estate.opt_in_filter,
            "regions": ["eu-west-1", "me-south-1"],
            "existing_profile": "extend",
            "policies": [AGENT_POLICY],
            "wait_timeout": 5,
        },
        "eu-west-1",
    )
    clients = {
        "eu-west-1": RetryingBotoClientWrapper(estate.ec2("eu-west-1"), retry_decorator()),
        "me-south-1": RetryingBotoClientWrapper(refusing, retry_decorator()),
    }
    iam = RetryingBotoClientWrapper(estate.iam, retry_decorator())
    run = mod.Attachment(request, clients, iam, False)
    with pytest.raises(mod.PlanError, match=f"me-south-1: could not read instances .*{code}"):
        run.run()
    stub.assert_no_pending_responses()
    assert estate.profile_of("eu-west-1", west) is None  # nothing was changed anywhere
    assert mod.counts_of(request.regions, run.failed_regions) == {"done": 1, "refused": 0, "failed": 1}


def test_apply_errors_count_their_region_as_failed_and_the_run_as_changed(estate):
    instance = estate.launch("eu-west-1", 1)[0]
    request = mod.request_from_params(
        {
            "instance_profile": estate.agent,
            "instance_profile_path": "/",
            "instances": [{"instance_id": instance, "region": "eu-west-1"}],
            "filters": {},
            "regions": [],
            "existing_profile": "extend",
            "policies": [AGENT_POLICY],
            "wait_timeout": 5,
        },
        "eu-west-1",
    )

    class Denying:
        """EC2 of eu-west-1 (moto) whose association call is denied."""

        def __init__(self, real):
            self.real = real

        def __getattr__(self, name):
            return getattr(self.real, name)

        def associate_iam_instance_profile(self, **_kwargs):
            raise mod.botocore.exceptions.ClientError(
                {"Error": {"Code": "UnauthorizedOperation", "Message": "denied"}},
                "AssociateIamInstanceProfile",
            )

    clients = {"eu-west-1": Denying(RetryingBotoClientWrapper(estate.ec2("eu-west-1"), retry_decorator()))}
    outcome = mod.Attachment(
        request, clients, RetryingBotoClientWrapper(estate.iam, retry_decorator()), False
    ).run()
    assert outcome.changed is True
    assert any("UnauthorizedOperation" in e for e in outcome.errors)
    assert outcome.region_counts == {"done": 0, "refused": 0, "failed": 1}


# --- concurrency of the writes (fakes: what is measured is how many calls are in flight at once) ---


class ConcurrentEC2:
    """EC2 whose association call waits until ``parties`` calls are in flight together (a barrier):
    a run that sends fewer at a time fails them with BrokenBarrierError after ``timeout``."""

    def __init__(self, parties: int, timeout: float = 3.0, started=None):
        self.barrier = threading.Barrier(parties, timeout=timeout)
        self.started = started
        self.associated: list[str] = []

    def associate_iam_instance_profile(self, IamInstanceProfile, InstanceId):
        if self.started is not None:
            self.started.set()
        self.barrier.wait()
        self.associated.append(InstanceId)
        return {"IamInstanceProfileAssociation": {"InstanceId": InstanceId, "State": "associating"}}


def associate_plans(count: int, region: str = "eu-west-1") -> list:
    return [mod.plan_instance(f"i-{n:04d}", region, "running", None, TARGET, "extend") for n in range(count)]


def test_a_region_sends_its_associations_25_at_a_time():
    """48 associations at 150 ms a call are 2 round trips, not 6 (8 at a time): 25 calls must be in
    flight together."""
    ec2 = ConcurrentEC2(parties=25)
    errors = mod.apply_region(ec2, associate_plans(25), TARGET, timeout=5)
    assert errors == []
    assert len(ec2.associated) == 25


def test_policy_attachments_run_alongside_the_associations():
    """The IAM attachments for extended roles do not wait for, nor hold up, the EC2 associations:
    the fake IAM answers only once an association has started."""
    started = threading.Event()
    seen_started = []

    class IAM:
        def attach_role_policy(self, RoleName, PolicyArn, aws_retry=False):
            seen_started.append(started.wait(timeout=3))

    ec2 = ConcurrentEC2(parties=1, started=started)
    request = mod.Request(instance_profile="CloudWatchAgentServerRole", policies=[AGENT_POLICY])
    run = mod.Attachment(request, {"eu-west-1": ec2}, IAM(), check_mode=False)
    errors = run.apply(associate_plans(1), {"LegacyAppRole": [AGENT_POLICY, SSM_POLICY]}, TARGET)
    assert errors == []
    assert seen_started == [True, True]
    assert ec2.associated == ["i-0000"]


# --- concurrency of the reads (fakes: each read answers only once its partner is in flight too) ---


class BarrierReads:
    """An EC2 (and IAM) client whose reads named in ``waiting`` answer only once all of them are
    in flight together: reads made one after another fail with BrokenBarrierError after 3 s."""

    def __init__(self, waiting: set[str], instances=("i-0001",), associations=(), profiles=None):
        self.barrier = threading.Barrier(len(waiting), timeout=3)
        self.waiting = waiting
        self.instances = list(instances)
        self.associations = list(associations)
        self.profiles = profiles or {}
        self.reads: list[str] = []

    def _read(self, name, result):
        self.reads.append(name)
        if name in self.waiting:
            self.barrier.wait()
        return result

    def get_paginator(self, operation):
        client = self

        class Pages:
            def __init__(self, **params):
                self.params = params

            def build_full_result(self):
                if operation == "describe_instances":
                    reservation = {
                        "Instances": [
                            {"InstanceId": i, "State": {"Name": "running"}} for i in client.instances
                        ]
                    }
                    return client._read(operation, {"Reservations": [reservation]})
                if operation == "describe_iam_instance_profile_associations":
                    return client._read(operation, {"IamInstanceProfileAssociations": client.associations})
                if operation == "list_attached_role_policies":
                    return client._read(f"{operation}:{self.params['RoleName']}", {"AttachedPolicies": []})
                raise AssertionError(operation)

        class Paginator:
            def paginate(self, **params):
                return Pages(**params)

        return Paginator()

    def get_instance_profile(self, InstanceProfileName, aws_retry=False):
        found = self.profiles.get(InstanceProfileName)
        result = {
            "InstanceProfile": {
                "InstanceProfileName": InstanceProfileName,
                "Arn": found["arn"],
                "Roles": [{"RoleName": r} for r in found["roles"]],
            }
        }
        return self._read(f"get_instance_profile:{InstanceProfileName}", result)


def test_a_region_reads_its_instances_and_associations_side_by_side():
    """One round trip per region for the reads, not two: DescribeInstances and
    DescribeIamInstanceProfileAssociations are in flight together (the fake answers neither alone)."""
    ec2 = BarrierReads({"describe_instances", "describe_iam_instance_profile_associations"})
    view = mod.read_region(ec2, ["i-0001"], None, timeout=5)
    assert view.instances == {"i-0001": "running"}
    assert view.associations == {}
    assert sorted(ec2.reads) == ["describe_iam_instance_profile_associations", "describe_instances"]


def test_the_profile_to_give_is_read_alongside_the_regions():
    """GetInstanceProfile of the target adds no round trip: it is in flight with the regions' reads."""
    profiles = {"CloudWatchAgentServerRole": {"arn": AGENT, "roles": ["CloudWatchAgentServerRole"]}}
    both = BarrierReads(
        {"describe_instances", "get_instance_profile:CloudWatchAgentServerRole"}, profiles=profiles
    )
    request = mod.Request(instance_profile="CloudWatchAgentServerRole", explicit={"eu-west-1": ["i-0001"]})
    outcome = mod.Attachment(request, {"eu-west-1": both}, both, check_mode=True).run()
    assert outcome.errors == []
    assert [p.operation for p in outcome.plans] == ["associate"]


def test_existing_profiles_and_their_roles_are_each_read_once_side_by_side():
    """Extending three applications' profiles costs two round trips (the profiles, then their roles),
    not six: the fake answers a profile (or a role's policies) only when all three are in flight."""
    names = ["AppA", "AppB", "AppC"]
    arns = {n: f"arn:aws:iam::123456789012:instance-profile/{n}" for n in names}
    profiles = {n: {"arn": arns[n], "roles": [f"{n}Role"]} for n in names}
    instances = [f"i-{n:04d}" for n in range(6)]
    associations = [association(i, arns[names[n % 3]], aid=f"iip-assoc-{n}") for n, i in enumerate(instances)]
    ec2 = BarrierReads(set(), instances=instances, associations=associations)
    # One cyclic barrier of 3: first the three profiles, then the three roles' policies.
    reads = {f"get_instance_profile:{n}" for n in names} | {
        f"list_attached_role_policies:{n}Role" for n in names
    }
    iam = BarrierReads(reads, profiles=profiles)
    iam.barrier = threading.Barrier(3, timeout=3)
    request = mod.Request(
        instance_profile="CloudWatchAgentServerRole",
        explicit={"eu-west-1": instances},
        policies=[AGENT_POLICY],
    )
    run = mod.Attachment(request, {"eu-west-1": ec2}, iam, check_mode=True)
    with ThreadPoolExecutor(max_workers=mod.MUTATION_WORKERS) as pool:
        reads = mod.IamReads(iam, pool)
        views = run.read(reads)
        plans, missing_by_role, attached = run.plan(views, TARGET, reads)
    assert sorted(iam.reads) == sorted(f"get_instance_profile:{n}" for n in names) + sorted(
        f"list_attached_role_policies:{n}Role" for n in names
    )
    assert missing_by_role == {f"{n}Role": [AGENT_POLICY] for n in names}
    assert attached == {f"{n}Role": [] for n in names}
    assert {p.operation for p in plans} == {"extend"}


def test_profiles_to_extend_are_read_while_other_regions_are_still_read():
    """Extending's IAM reads start as soon as a region names a profile, not after the last region's
    read: us-east-1's instances answer only once eu-west-1's AppA profile is being read (were the
    IAM reads to wait for every region, us-east-1 would fail after 3 s and so would the run)."""
    profile_read = threading.Event()

    class WaitsForTheProfileRead(BarrierReads):
        def _read(self, name, result):
            if name == "describe_instances" and not profile_read.wait(3):
                raise AssertionError("the profile was not read while this region was")
            return super()._read(name, result)

    class Iam(BarrierReads):
        def _read(self, name, result):
            if name == "get_instance_profile:AppA":
                profile_read.set()
            return super()._read(name, result)

    app = "arn:aws:iam::123456789012:instance-profile/AppA"
    ec2 = {
        "eu-west-1": BarrierReads(set(), instances=["i-0001"], associations=[association("i-0001", app)]),
        "us-east-1": WaitsForTheProfileRead(set(), instances=["i-0002"]),
    }
    iam = Iam(set(), profiles={"AppA": {"arn": app, "roles": ["AppRole"]}})
    request = mod.Request(
        instance_profile="CloudWatchAgentServerRole",
        explicit={"eu-west-1": ["i-0001"], "us-east-1": ["i-0002"]},
        policies=[AGENT_POLICY],
    )
    iam.profiles["CloudWatchAgentServerRole"] = {"arn": TARGET.arn, "roles": ["CloudWatchAgentServerRole"]}
    outcome = mod.Attachment(request, ec2, iam, check_mode=True).run()
    assert not outcome.errors
    assert {p.instance_id: p.operation for p in outcome.plans} == {"i-0001": "extend", "i-0002": "associate"}
    assert "list_attached_role_policies:AppRole" in iam.reads


def test_a_filter_region_without_targets_reads_no_associations():
    """A filter's region where no instance matches reads nothing more: its associations are neither
    paged through nor a reason to fail the run (the reads run side by side only for named instances)."""
    ec2 = BarrierReads(set(), instances=())
    view = mod.read_region(ec2, [], [{"Name": "tag:gdpr_monitoring", "Values": ["true"]}], timeout=5)
    assert view.instances == {}
    assert ec2.reads == ["describe_instances"]
