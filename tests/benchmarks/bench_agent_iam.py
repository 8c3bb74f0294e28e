"""Issue figure: giving the agent's instance profile to 200 instances over 4 regions costs
O(regions + changed instances) API calls and at most 1.25x the wall time of one region of that fleet.

Fleets, built on a freshly reset embedded AWS (moto) before each measured run, never timed:
  * fleet:  200 instances over 4 regions, 50 per region; 48 per region without a profile and 2 per
            region (8 in all) with an application's profile whose role all 8 share, so extending it
            is exercised (existing_profile: extend, the default);
  * region: one region of the fleet as it is there (eu-west-1: 48 without a profile, 2 with the
            application's): the issue's "all regions <= 1.25x one region";
  * one:    1 instance without a profile in eu-west-1 (printed, not gated: it also measures the 49
            calls more per region that EC2, with no batch call for associations, needs).

API calls are counted with a botocore ``before-call`` hook on the boto3 session the module's core
(``Attachment.run``, everything but the Ansible wrapper) runs in-process with. The figure holds when
  * reads do not grow with the fleet: one DescribeInstances and one
    DescribeIamInstanceProfileAssociations per region;
  * writes are one AssociateIamInstanceProfile per instance without a profile, and AttachRolePolicy
    once per (shared role, policy), not per instance;
  * a second run over the converged fleet makes only the per-region reads (no call per instance).

Wall time, with 150 ms added to every call by the fault proxy (real AWS round trips;
tests/benchmarks/latency.py): attaching as users do it, `ansible-playbook` running one
gdpr.aws_monitoring.instance_profile_attachment task; the ratio fleet/region must be <= the limit
(1.25). fleet/one is printed beside it, with the CPU the embedded AWS spent per run: moto answers
one call at a time on this machine's two cores, which real AWS does not. The peers' sequential loop
(boto3, one region after another, one instance after another, the same calls) is timed on the fleet
and printed against the collection. The sides are interleaved and the medians compared, which keeps
other load on the machine from favouring either side. After every run the benchmark checks that
every instance ended with the agent's profile or its shared role got the policies, so a run that did
nothing cannot pass.

    .venv/bin/python tests/benchmarks/bench_agent_iam.py [--pairs N] [--latency-ms 150] [--limit 1.25]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import latency as lat
import moto_server

from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import retry_decorator
from ansible_collections.gdpr.aws_monitoring.plugins.modules import instance_profile_attachment as mod

AGENT = "CloudWatchAgentServerRole"
LEGACY_PROFILE = "LegacyAppProfile"
LEGACY_ROLE = "LegacyAppRole"
POLICIES = [
    "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
]
FLEET_REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "us-west-2"]
PER_REGION = 50
LEGACY_PER_REGION = 2
MOTO_AMI = "ami-1e749f67"  # bundled with moto in every region
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
PLAY = """\
- name: Give the agent's profile to the fleet
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Instance profile attachment
      gdpr.aws_monitoring.instance_profile_attachment:
        instance_profile: CloudWatchAgentServerRole
        policies: "{{ bench_policies }}"
        instances: "{{ bench_instances }}"
"""


# --- the fleets ----------------------------------------------------------------------------------


def build(endpoint: str, layout: dict[str, tuple[int, int]]) -> list[dict[str, str]]:
    """Reset moto, create the agent role/profile and the legacy one, launch ``{region: (plain, legacy)}``."""
    moto_server.reset(endpoint)
    iam = boto3.client("iam", region_name="us-east-1")
    for role, profile, policies in ((AGENT, AGENT, POLICIES), (LEGACY_ROLE, LEGACY_PROFILE, [])):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
        for arn in policies:
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        iam.create_instance_profile(InstanceProfileName=profile)
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    targets = []
    for region, (plain, legacy) in layout.items():
        ec2 = boto3.client("ec2", region_name=region)
        ids = [
            i["InstanceId"]
            for i in ec2.run_instances(ImageId=MOTO_AMI, MinCount=plain + legacy, MaxCount=plain + legacy)[
                "Instances"
            ]
        ]
        for instance_id in ids[plain:]:
            ec2.associate_iam_instance_profile(
                InstanceId=instance_id, IamInstanceProfile={"Name": LEGACY_PROFILE}
            )
        targets.extend({"instance_id": i, "region": region} for i in ids)
    return targets


ONE = {"eu-west-1": (1, 0)}
FLEET = {r: (PER_REGION - LEGACY_PER_REGION, LEGACY_PER_REGION) for r in FLEET_REGIONS}
REGION = {FLEET_REGIONS[0]: FLEET[FLEET_REGIONS[0]]}  # one region of the fleet, as it is there
SIDES = {"one": ONE, "region": REGION, "fleet": FLEET}  # the timed plays, by the name printed


def check_converged(layout: dict[str, tuple[int, int]]) -> None:
    """Every instance has the agent's profile, or the legacy one and the shared role has the policies."""
    for region, (plain, legacy) in layout.items():
        pages = boto3.client("ec2", region_name=region).get_paginator(
            "describe_iam_instance_profile_associations"
        )
        names = Counter(
            mod.profile_name_from_arn(a["IamInstanceProfile"]["Arn"])
            for page in pages.paginate()
            for a in page["IamInstanceProfileAssociations"]
            if a["State"] == "associated"
        )
        expected = Counter({AGENT: plain, LEGACY_PROFILE: legacy})
        if +names != +expected:
            raise SystemExit(f"FAIL: {region} ended with {dict(names)}, expected {dict(+expected)}")
    if any(legacy for _plain, legacy in layout.values()):
        attached = boto3.client("iam", region_name="us-east-1").list_attached_role_policies(
            RoleName=LEGACY_ROLE
        )
        have = {p["PolicyArn"] for p in attached["AttachedPolicies"]}
        if not set(POLICIES) <= have:
            raise SystemExit(f"FAIL: {LEGACY_ROLE} was not extended: {sorted(have)}")


# --- in-process runs -----------------------------------------------------------------------------


def run_core(targets: list[dict[str, str]]) -> tuple[float, Counter, dict[str, Any]]:
    """One run of the module's core with a fresh session; wall time, API calls by operation, result."""
    calls: Counter = Counter()
    start = time.perf_counter()
    session = boto3.session.Session()
    session.events.register("before-call", lambda model, **_: calls.update([model.name]))
    params = {
        "instance_profile": AGENT,
        "instance_profile_path": "/",
        "instances": targets,
        "filters": {},
        "regions": [],
        "existing_profile": "extend",
        "policies": POLICIES,
        "wait_timeout": 60,
    }
    request = mod.request_from_params(params, "eu-west-1")
    decorator = retry_decorator()
    ec2 = {
        r: RetryingBotoClientWrapper(session.client("ec2", region_name=r), decorator) for r in request.regions
    }
    iam = RetryingBotoClientWrapper(session.client("iam", region_name="us-east-1"), decorator)
    outcome = mod.Attachment(request, ec2, iam, check_mode=False).run()
    elapsed = time.perf_counter() - start
    if outcome.errors:
        raise SystemExit(f"FAIL: the run reported errors: {outcome.errors}")
    return elapsed, calls, outcome.result()


def call_bound_misses(
    calls: Counter, regions: int, associated: int, shared_roles: int, rerun: bool
) -> list[str]:
    """What in the call counts is not O(regions + changed instances)."""
    misses = []
    for read in ("DescribeInstances", "DescribeIamInstanceProfileAssociations"):
        if calls[read] != regions:
            misses.append(f"{read}: {calls[read]} calls for {regions} regions")
    expected_associate = 0 if rerun else associated
    if calls["AssociateIamInstanceProfile"] != expected_associate:
        misses.append(
            f"AssociateIamInstanceProfile: {calls['AssociateIamInstanceProfile']}, want {expected_associate}"
        )
    expected_attach = 0 if rerun else shared_roles * len(POLICIES)
    if calls["AttachRolePolicy"] != expected_attach:
        misses.append(
            f"AttachRolePolicy: {calls['AttachRolePolicy']}, want {expected_attach} (once per role+policy)"
        )
    # IAM reads: the target profile, plus each distinct existing profile and role - never per instance.
    iam_reads = calls["GetInstanceProfile"] + calls["ListAttachedRolePolicies"]
    if iam_reads > 1 + 2 * shared_roles:
        misses.append(f"IAM reads: {iam_reads}, want <= {1 + 2 * shared_roles}")
    return misses


# --- end-to-end runs through the latency proxy ---------------------------------------------------


# CPU-seconds the embedded AWS (moto and the proxy) spent in each timed run, by side: printed to
# show how much of the fleet's extra wall time is the embedded AWS's own work on this machine.
AWS_CPU: dict[str, list[float]] = {}


def timed_play(proxy: Any, playbook: Path, side: str) -> float:
    layout = SIDES[side]
    targets = build(proxy.upstream_endpoint, layout)
    before = lat.embedded_aws_cpu(proxy)
    elapsed, _output = lat.run_playbook(
        proxy, playbook, {"bench_instances": targets, "bench_policies": POLICIES}
    )
    AWS_CPU.setdefault(side, []).append(lat.embedded_aws_cpu(proxy) - before)
    check_converged(layout)
    return elapsed


def peers_loop(proxy: Any, targets: list[dict[str, str]]) -> None:
    """One region after another, one instance after another, the same calls as the module."""
    iam = lat.client_via(proxy, "iam", "us-east-1")
    extended: set[str] = set()
    for region in sorted({t["region"] for t in targets}):
        ec2 = lat.client_via(proxy, "ec2", region)
        ids = [t["instance_id"] for t in targets if t["region"] == region]
        ec2.describe_instances(InstanceIds=ids)
        associations = {
            a["InstanceId"]: a["IamInstanceProfile"]["Arn"]
            for a in ec2.describe_iam_instance_profile_associations(
                Filters=[{"Name": "instance-id", "Values": ids}]
            )["IamInstanceProfileAssociations"]
        }
        for instance_id in ids:
            arn = associations.get(instance_id)
            if arn is None:
                ec2.associate_iam_instance_profile(InstanceId=instance_id, IamInstanceProfile={"Name": AGENT})
                continue
            profile = iam.get_instance_profile(InstanceProfileName=mod.profile_name_from_arn(arn))
            for role in profile["InstanceProfile"]["Roles"]:
                if role["RoleName"] not in extended:
                    extended.add(role["RoleName"])
                    for policy in POLICIES:
                        iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=policy)


def timed_peers(proxy: Any, layout: dict[str, tuple[int, int]]) -> float:
    targets = build(proxy.upstream_endpoint, layout)
    elapsed, _none = lat.timed(lambda: peers_loop(proxy, targets))
    check_converged(layout)
    return elapsed


# --- main ----------------------------------------------------------------------------------------


def call_figures(endpoint: str) -> list[str]:
    """Call counts of the module's core, in-process against moto directly; what breaks the bound."""
    regions = len(FLEET_REGIONS)
    associated = regions * (PER_REGION - LEGACY_PER_REGION)
    fleet = build(endpoint, FLEET)
    calls, result = run_core(fleet)[1:]
    check_converged(FLEET)
    rerun_calls, rerun = run_core(fleet)[1:]
    one_calls = run_core(build(endpoint, ONE))[1]
    check_converged(ONE)

    def show(label: str, counted: Counter) -> None:
        print(f"API calls, {label:<30} {sum(counted.values()):4d}  {dict(sorted(counted.items()))}")

    show("1 instance:", one_calls)
    show("200 instances over 4 regions:", calls)
    print(f"  actions: {result['counts']}")
    show("second run (converged fleet):", rerun_calls)
    print(f"  actions: {rerun['counts']}")
    bound = 2 * regions + associated + len(POLICIES) + 3
    print(
        f"  call ratio 200/1: {sum(calls.values()) / sum(one_calls.values()):.1f}x for 200x the instances; "
        f"bound 2*regions + instances associated + policies per shared role + 3 = {bound}"
    )
    failures = call_bound_misses(calls, regions, associated, shared_roles=1, rerun=False)
    failures += [f"rerun {m}" for m in call_bound_misses(rerun_calls, regions, associated, 1, rerun=True)]
    if sum(calls.values()) > bound:
        failures.append(f"{sum(calls.values())} calls > bound {bound}")
    if rerun["changed"] or sum(rerun_calls.values()) > 2 * regions + 3:
        failures.append(f"second run not read-only per region: {sum(rerun_calls.values())} calls")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="interleaved rounds of every side (default 5)")
    parser.add_argument("--latency-ms", type=float, default=lat.LATENCY_MS, help="delay per call")
    parser.add_argument("--limit", type=float, default=1.25, help="highest wall time ratio fleet/one")
    args = parser.parse_args(argv)

    with lat.embedded_aws(latency_ms=args.latency_ms) as proxy, tempfile.TemporaryDirectory() as tmp:
        playbook = Path(tmp) / "bench_agent_iam.yml"
        playbook.write_text(PLAY)
        run_core(build(proxy.upstream_endpoint, FLEET))  # warm-up, untimed: moto builds its service apps
        failures = call_figures(proxy.upstream_endpoint)
        times = lat.interleaved(
            args.pairs,
            {
                **{side: (lambda side=side: timed_play(proxy, playbook, side)) for side in SIDES},
                "sequential": lambda: timed_peers(proxy, FLEET),
            },
            once=["sequential"],
        )
    print("instance_profile_attachment, 200 instances over 4 regions (fleet) vs one region of it, 1 instance")
    for name, values in times.items():
        print(f"  {name:<10} s: {lat.seconds(values)}")
    for name, values in AWS_CPU.items():
        print(f"  {name:<10} CPU-s of the embedded AWS (moto + proxy) per run: {lat.seconds(values)}")
    for failure in failures:
        print(f"  call bound missed: {failure}")
    figures = [
        lat.Figure("fleet / one region", lat.ratio(times["fleet"], times["region"]), args.limit),
        lat.Figure("fleet / one instance", lat.ratio(times["fleet"], times["one"])),
        lat.Figure(
            "collection, fleet / peers' sequential loop", lat.ratio(times["fleet"], times["sequential"])
        ),
    ]
    return lat.gate(f"agent_iam, {args.latency_ms:g} ms per call, ratios of medians:", figures) or int(
        bool(failures)
    )


if __name__ == "__main__":
    sys.exit(main())
