"""Issue figure: giving the agent's instance profile to 200 instances over 4 regions costs
O(regions + changed instances) API calls and at most 3x the wall time of giving it to 1 instance.

Fleets, built on a freshly reset embedded AWS (moto) before each measured run, never timed:
  * one:   1 instance without a profile in eu-west-1;
  * fleet: 200 instances over 4 regions, 50 per region; 48 per region without a profile and 2 per
           region (8 in all) with an application's profile whose role all 8 share, so extending it
           is exercised (existing_profile: extend, the default).

API calls are counted with a botocore ``before-call`` hook on the boto3 session the module's core
(``Attachment.run``, everything but the Ansible wrapper) runs in-process with. The figure holds when
  * reads do not grow with the fleet: one DescribeInstances and one
    DescribeIamInstanceProfileAssociations per region;
  * writes are one AssociateIamInstanceProfile per instance without a profile, and AttachRolePolicy
    once per (shared role, policy), not per instance;
  * a second run over the converged fleet makes only the per-region reads (no call per instance).

Wall time is that of attaching as users do it: `ansible-playbook` running one
gdpr.aws_monitoring.instance_profile_attachment task; its ratio fleet/one must be <= the limit. The
core's in-process wall time (fresh boto3 session per run, so service models load each time as in a
module process) is printed too, for information only: moto answers from one Python process, so the
192 association calls are bound by moto's CPU per call, which says little about AWS, where the
calls run concurrently (8 per region, all regions at once) and are latency-bound.
The pairs (one, fleet) are interleaved and the medians compared, which keeps other load on the
machine from favouring either side. After every run the benchmark checks that every instance ended
with the agent's profile or its shared role got the policies, so a run that did nothing cannot pass.

    .venv/bin/python tests/benchmarks/bench_agent_iam.py [--pairs N] [--limit 3.0]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "harness"))

import moto_server  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper  # noqa: E402
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import retry_decorator  # noqa: E402
from ansible_collections.gdpr.aws_monitoring.plugins.modules import instance_profile_attachment as mod  # noqa: E402

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


# --- end-to-end runs -----------------------------------------------------------------------------


def run_playbook(targets: list[dict[str, str]], workdir: Path) -> float:
    play = workdir / "bench_agent_iam.yml"
    play.write_text(PLAY)
    extra = workdir / "bench_vars.json"
    extra.write_text(json.dumps({"bench_instances": targets, "bench_policies": POLICIES}))
    env = dict(os.environ)
    env["ANSIBLE_COLLECTIONS_PATH"] = sysconfig.get_paths()["purelib"]
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    start = time.perf_counter()
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            "localhost,",
            str(play),
            "-e",
            f"@{extra}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"FAIL: ansible-playbook failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="interleaved (one, fleet) pairs, end to end")
    parser.add_argument("--limit", type=float, default=3.0, help="max wall time ratio fleet/one")
    args = parser.parse_args()
    regions = len(FLEET_REGIONS)
    associated = regions * (PER_REGION - LEGACY_PER_REGION)
    failures: list[str] = []

    with moto_server.running() as endpoint, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(moto_server.endpoint_env(endpoint))
        # Warm-up, untimed: moto builds each service's app on its first request.
        run_core(build(endpoint, FLEET))

        fleet = build(endpoint, FLEET)
        calls, result = run_core(fleet)[1:]
        check_converged(FLEET)
        rerun_calls, rerun = run_core(fleet)[1:]
        one = build(endpoint, ONE)
        one_calls = run_core(one)[1]
        check_converged(ONE)

        def show(label: str, counted: Counter) -> None:
            print(f"API calls, {label:<30} {sum(counted.values()):4d}  {dict(sorted(counted.items()))}")

        show("1 instance:", one_calls)
        show("200 instances over 4 regions:", calls)
        print(f"  actions: {result['counts']}")
        show("second run (converged fleet):", rerun_calls)
        print(f"  actions: {rerun['counts']}")
        bound = 2 * regions + associated + len(POLICIES) + 3
        ratio = sum(calls.values()) / sum(one_calls.values())
        print(
            f"  call ratio 200/1: {ratio:.1f}x for 200x the instances; bound 2*regions + "
            f"instances associated + policies per shared role + 3 = {bound}"
        )
        failures += call_bound_misses(calls, regions, associated, shared_roles=1, rerun=False)
        failures += [f"rerun {m}" for m in call_bound_misses(rerun_calls, regions, associated, 1, rerun=True)]
        if sum(calls.values()) > bound:
            failures.append(f"{sum(calls.values())} calls > bound {bound}")
        if rerun["changed"] or sum(rerun_calls.values()) > 2 * regions + 3:
            failures.append(f"second run not read-only per region: {sum(rerun_calls.values())} calls")

        for method, pairs in (("in-process (information)", 3), ("end-to-end", args.pairs)):
            times: dict[str, list[float]] = {"one": [], "fleet": []}
            for _pair in range(pairs):
                for name, layout in (("one", ONE), ("fleet", FLEET)):
                    targets = build(endpoint, layout)
                    if method.startswith("in-process"):
                        elapsed = run_core(targets)[0]
                    else:
                        elapsed = run_playbook(targets, Path(tmp))
                    check_converged(layout)
                    times[name].append(elapsed)
            one_t, fleet_t = statistics.median(times["one"]), statistics.median(times["fleet"])
            ratio = fleet_t / one_t
            runs = {k: " ".join(f"{t:.2f}" for t in v) for k, v in times.items()}
            gate = f"limit {args.limit}x" if method == "end-to-end" else "not gated"
            print(
                f"wall time {method}: 1 instance median {one_t:.2f}s, 200 instances/4 regions median "
                f"{fleet_t:.2f}s -> ratio {ratio:.2f}x ({gate}; runs one: {runs['one']}; "
                f"fleet: {runs['fleet']})"
            )
            if method == "end-to-end" and ratio > args.limit:
                failures.append(f"{method} wall time ratio {ratio:.2f}x > {args.limit}x")

    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
