#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: instance_profile_attachment
short_description: Give many EC2 instances, across regions, an IAM instance profile without breaking existing ones
version_added: 0.1.0
description:
  - Makes an IAM instance profile (and so the permissions of its role) available to a whole fleet in
    one call. Targets are explicit instances, instances matching EC2 filters in a list of regions, or
    both.
  - Instances without a profile get O(instance_profile) associated, running or stopped.
  - An instance that already has another profile keeps it by default
    (O(existing_profile=extend)) - replacing a profile silently takes away whatever the instance's
    software was allowed to do. Instead the managed policies in O(policies) are attached to the
    role(s) of that existing profile. Policies those roles already have are never detached.
  - O(existing_profile=replace) replaces the association (ReplaceIamInstanceProfileAssociation for
    running instances; disassociate then associate for stopped ones). O(existing_profile=skip) only
    reports such instances.
  - Each region is read once (DescribeInstances and DescribeIamInstanceProfileAssociations), all
    regions concurrently; write calls are made only for instances that need a change. IAM is global,
    so a role shared by many instances gets each policy attached once.
  - Every target is validated before anything changes. An unknown region (checked against
    C(ec2:DescribeRegions)), an unknown instance id, an instance that is terminated, or a region that
    cannot be read - whatever the error, access denied and regions not opted in included - fails the
    module with nothing changed, naming each region and its error.
  - Associations in the C(associating) or C(disassociating) state are waited for (up to
    O(wait_timeout) seconds) before the instance is planned.
  - The module does not remove profiles; use M(amazon.aws.ec2_instance) or the EC2 API for that.
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  instance_profile:
    description:
      - Name or ARN of the IAM instance profile to give to the instances.
    type: str
    required: true
  instance_profile_path:
    description:
      - Path of O(instance_profile). Only used in check mode, to predict the ARN of a profile that
        does not exist yet because an earlier task would create it.
    type: str
    default: /
  instances:
    description:
      - Explicit target instances.
    type: list
    elements: dict
    default: []
    suboptions:
      instance_id:
        description: Instance id, e.g. C(i-0123456789abcdef0).
        type: str
        required: true
      region:
        description: Region of the instance. Defaults to the module's O(region).
        type: str
  filters:
    description:
      - EC2 DescribeInstances filters selecting further targets in every region of O(regions), for
        example the key C(tag:gdpr_monitoring) with the value C(true). Values may be strings or lists.
      - Unless the filters name C(instance-state-name), only pending, running, stopping and stopped
        instances are selected.
    type: dict
    default: {}
  regions:
    description:
      - Regions where O(filters) select instances. Defaults to the module's O(region).
    type: list
    elements: str
    default: []
  existing_profile:
    description:
      - What to do with an instance that already has another instance profile.
      - V(extend) attaches O(policies) to the role(s) of the existing profile and leaves the
        association alone.
      - V(replace) replaces the existing profile with O(instance_profile).
      - V(skip) leaves the instance alone and reports it.
    type: str
    choices: [extend, replace, skip]
    default: extend
  policies:
    description:
      - ARNs of the managed policies an instance needs from its role; attached to existing roles when
        O(existing_profile=extend).
      - Defaults to the managed policies attached to the role of O(instance_profile).
    type: list
    elements: str
    default: []
  wait_timeout:
    description:
      - Seconds to wait for associations in progress (C(associating), C(disassociating)) to settle.
    type: int
    default: 300
notes:
  - Supports check mode and diff mode. In check mode nothing is changed and the result describes
    what would be done.
  - Every region used here is one the user named (O(regions), O(instances), O(region)), so no region
    is ever skipped as refused.
extends_documentation_fragment:
  - gdpr.aws_monitoring.regions
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The agent's profile on two instances in two regions
  gdpr.aws_monitoring.instance_profile_attachment:
    instance_profile: CloudWatchAgentServerRole
    policies:
      - arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy
    instances:
      - instance_id: i-0123456789abcdef0
        region: eu-west-1
      - instance_id: i-0fedcba9876543210
        region: eu-central-1

- name: Every opted-in instance of three regions; replace other profiles (explicit choice)
  gdpr.aws_monitoring.instance_profile_attachment:
    instance_profile: CloudWatchAgentServerRole
    filters:
      "tag:gdpr_monitoring": "true"
    regions: [eu-west-1, eu-central-1, eu-north-1]
    existing_profile: replace
  register: attachment
"""

RETURN = r"""
instance_profile_arn:
  description: ARN of O(instance_profile) (predicted in check mode when it does not exist yet).
  returned: always
  type: str
  sample: arn:aws:iam::123456789012:instance-profile/CloudWatchAgentServerRole
instances:
  description: One entry per target instance, in region then instance id order.
  returned: always
  type: list
  elements: dict
  contains:
    instance_id:
      description: Instance id.
      type: str
    region:
      description: Region of the instance.
      type: str
    state:
      description: EC2 state of the instance when it was read.
      type: str
    before:
      description: ARN of the instance profile associated before the run, or null.
      type: str
    after:
      description: ARN of the instance profile associated after the run (would be, in check mode), or null.
      type: str
    action:
      description:
        - C(associated), C(replaced), C(extended) (policies attached to the role(s) of the existing
          profile), C(skipped) or C(unchanged).
      type: str
    roles:
      description: Roles of the existing profile that were (would be) extended, with the policies attached.
      type: dict
    message:
      description: Why an instance was skipped.
      type: str
  sample:
    - instance_id: i-0123456789abcdef0
      region: eu-west-1
      state: running
      before: null
      after: arn:aws:iam::123456789012:instance-profile/CloudWatchAgentServerRole
      action: associated
      roles: {}
      message: ""
counts:
  description: Number of instances per action.
  returned: always
  type: dict
  sample: {associated: 10, replaced: 0, extended: 2, skipped: 0, unchanged: 188}
roles_extended:
  description: Existing roles that got (would get) policies attached, with those policies.
  returned: always
  type: dict
  sample: {LegacyAppRole: [arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy]}
region_counts:
  description: How many regions were done, refused (always 0 here) and failed.
  returned: always
  type: dict
  sample: {"done": 3, "refused": 0, "failed": 0}
unknown_regions:
  description: Regions AWS does not know (the module then fails before any change).
  returned: on failure
  type: list
  elements: str
  sample: ["eu-wset-1"]
"""

import time
from concurrent.futures import Future, ThreadPoolExecutor
from threading import Lock
from typing import Any, Callable

try:
    import botocore
except ImportError:  # AnsibleAWSModule reports the missing SDK itself
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.backoff import RetryPolicy
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.instance_profiles import (
    ATTACHABLE_STATES,
    EXISTING_PROFILE_MODES,
    InstancePlan,
    Outcome,
    PlanError,
    Profile,
    RegionView,
    Request,
    chunks,
    counts_of,
    in_progress,
    index_associations,
    plan_instance,
    plan_role_policies,
    predicted_profile_arn,
    profile_name_from_arn,
    region_sources,
    request_from_params,
    settle_extend,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import (
    CALLS_IN_FLIGHT_PER_CLIENT,
    RegionalClients,
    account_region,
    check_regions,
    error_code,
    region_options,
    retry_decorator,
    run_in_regions,
)

FILTER_CHUNK = 200  # values per EC2 filter
PAGE_SIZE = 1000  # the largest page EC2 hands out: one call per region for most fleets
# Concurrent write calls per region. EC2's mutating calls draw on a bucket of 50 per account and
# region: 25 keeps half of it for other tools, and makes 48 associations 2 rounds of a call's latency
# instead of 6 (at 150 ms a call, 8 at a time added 0.75 s to a fleet's run). The clients' connection
# pools hold as many (regions.py).
MUTATION_WORKERS = CALLS_IN_FLIGHT_PER_CLIENT
POLL_DELAY = 5.0
# A profile created seconds ago is not yet visible to EC2 (IAM is eventually consistent): EC2 then
# answers InvalidParameterValue "Invalid IAM Instance Profile". Only the association calls retry it,
# on top of the collection's policy for throttling and transient errors, with longer first sleeps.
ASSOCIATE_RETRY = RetryPolicy(base=1.0, extra_codes=frozenset({"InvalidParameterValue"}))


# ---------------------------------------------------------------------------------------------------
# AWS reads and writes. Functions take clients (RetryingBotoClientWrapper) so the benchmark and the
# tests can drive them in-process with instrumented boto3 clients.


def at_once(work: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """``work(item)`` for every item at the same time (up to MUTATION_WORKERS), results in order."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(MUTATION_WORKERS, len(items))) as pool:
        return list(pool.map(work, items))


def describe_targets(
    ec2: Any, explicit: list[str], filters: list[dict[str, Any]] | None
) -> tuple[dict[str, str], list[str]]:
    """Target instances of one region (id -> state) and the explicit ids that do not exist there."""
    found: dict[str, str] = {}
    paginator = ec2.get_paginator("describe_instances")

    def collect(request_filters: list[dict[str, Any]]) -> None:
        pages = paginator.paginate(Filters=request_filters, PaginationConfig={"PageSize": PAGE_SIZE})
        for page in retry_decorator()(pages.build_full_result)().get("Reservations", []):
            for instance in page.get("Instances", []):
                found[instance["InstanceId"]] = instance["State"]["Name"]

    for chunk in chunks(explicit, FILTER_CHUNK):
        collect([{"Name": "instance-id", "Values": chunk}])
    if filters is not None:
        collect(filters)
    missing = [i for i in explicit if i not in found]
    return found, missing


def describe_associations(ec2: Any, instance_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Active profile associations of the region (or of ``instance_ids``), by instance id.

    Read from DescribeIamInstanceProfileAssociations, not from the instances' IamInstanceProfile
    field: that field lags behind (and moto never updates it on replace).
    """
    params: dict[str, Any] = {"PaginationConfig": {"PageSize": PAGE_SIZE}}
    if instance_ids is not None:
        params["Filters"] = [{"Name": "instance-id", "Values": instance_ids}]
    paginator = ec2.get_paginator("describe_iam_instance_profile_associations")
    pages = paginator.paginate(**params)
    result = retry_decorator()(pages.build_full_result)()
    return index_associations(result.get("IamInstanceProfileAssociations", []))


def wait_settled(
    ec2: Any,
    associations: dict[str, dict[str, Any]],
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, dict[str, Any]]:
    """Poll the instances whose association is in progress until none is; return the updated index."""
    pending = in_progress(associations)
    deadline = clock() + timeout
    while pending:
        if clock() >= deadline:
            raise PlanError(
                f"associations still in progress after {timeout:.0f}s for: {', '.join(pending)}; nothing was changed"
            )
        sleep(POLL_DELAY)
        fresh = describe_associations(ec2, pending)
        for instance_id in pending:
            if instance_id in fresh:
                associations[instance_id] = fresh[instance_id]
            else:
                associations.pop(instance_id, None)
        pending = in_progress(associations)
    return associations


def read_region(
    ec2: Any,
    explicit: list[str],
    filters: list[dict[str, Any]] | None,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
) -> RegionView:
    if explicit:
        # Named instances: the instances and the region's associations are read side by side,
        # neither needs the other, and one round trip less per region is one less for the whole run.
        with ThreadPoolExecutor(max_workers=1) as pool:
            everything = pool.submit(describe_associations, ec2)
            instances, missing = describe_targets(ec2, explicit, filters)
            found = everything.result()
    else:
        # Filters only: most regions of a filter find nothing, and those read no associations (a
        # region without targets is neither paged through nor can fail the run on that read).
        instances, missing = describe_targets(ec2, explicit, filters)
        found = describe_associations(ec2) if instances else {}
    associations = {i: a for i, a in found.items() if i in instances}
    associations = wait_settled(ec2, associations, timeout, sleep)
    return RegionView(instances=instances, associations=associations, missing=missing)


def wait_disassociated(
    ec2: Any, association_id: str, timeout: float, sleep: Callable[[float], None] = time.sleep
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = ec2.describe_iam_instance_profile_associations(
            AssociationIds=[association_id], aws_retry=True
        )
        states = [a.get("State") for a in result.get("IamInstanceProfileAssociations", [])]
        if not states or all(s == "disassociated" for s in states):
            return
        if time.monotonic() >= deadline:
            raise PlanError(f"association {association_id} still {states[0]} after {timeout:.0f}s")
        sleep(POLL_DELAY)


def apply_instance(
    ec2: Any, plan: InstancePlan, target: Profile, timeout: float, sleep: Callable[[float], None] = time.sleep
) -> None:
    spec = {"Arn": target.arn}
    if plan.operation == "associate":
        ASSOCIATE_RETRY(ec2.associate_iam_instance_profile)(
            IamInstanceProfile=spec, InstanceId=plan.instance_id
        )
    elif plan.operation == "replace":
        ASSOCIATE_RETRY(ec2.replace_iam_instance_profile_association)(
            IamInstanceProfile=spec, AssociationId=plan.association["AssociationId"]
        )
    elif plan.operation == "reassociate":
        association_id = plan.association["AssociationId"]
        ec2.disassociate_iam_instance_profile(AssociationId=association_id, aws_retry=True)
        wait_disassociated(ec2, association_id, timeout, sleep)
        ASSOCIATE_RETRY(ec2.associate_iam_instance_profile)(
            IamInstanceProfile=spec, InstanceId=plan.instance_id
        )


def apply_region(ec2: Any, plans: list[InstancePlan], target: Profile, timeout: float) -> list[str]:
    """Write calls for one region's changed instances, a few at a time; returns per-instance errors."""

    def one(plan: InstancePlan) -> str | None:
        try:
            apply_instance(ec2, plan, target, timeout)
        except Exception as exc:  # reported per instance; the others still get their profile
            return f"{plan.instance_id} ({plan.region}): {type(exc).__name__}: {exc}"
        return None

    return [e for e in at_once(one, plans) if e]


def resolve_profile(iam: Any, name_or_arn: str) -> Profile | None:
    name = profile_name_from_arn(name_or_arn) if name_or_arn.startswith("arn:") else name_or_arn
    try:
        found = iam.get_instance_profile(InstanceProfileName=name, aws_retry=True)["InstanceProfile"]
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise
    return Profile(name=name, arn=found["Arn"], roles=[r["RoleName"] for r in found.get("Roles", [])])


def attached_policies(iam: Any, role: str) -> list[str]:
    paginator = iam.get_paginator("list_attached_role_policies")
    pages = paginator.paginate(RoleName=role)
    result = retry_decorator()(pages.build_full_result)()
    return [p["PolicyArn"] for p in result.get("AttachedPolicies", [])]


class IamReads:
    """Instance profiles and their roles' attached policies: each read once, and started as soon as
    the run knows it will need it, so the reads of extending overlap the regions' reads.

    The profiles the instances already have are known as each region's associations come back;
    reading them then, and each profile's roles' policies as soon as the profile is read, takes the
    two IAM round trips of extending out of the run's critical path (they used to start after the
    last region's read). A read nobody asks for later (its instance needed no extending after all)
    is never waited for, and its error never reported: every read is a read, nothing is written.
    """

    def __init__(self, iam: Any, pool: ThreadPoolExecutor) -> None:
        self._iam = iam
        self._pool = pool
        self._lock = Lock()
        self._profiles: dict[str, Future] = {}
        self._policies: dict[str, Future] = {}

    def profile(self, name: str) -> Future:
        """The profile (``Profile`` or None when it does not exist), read once."""
        with self._lock:
            if name not in self._profiles:
                self._profiles[name] = self._pool.submit(self._read_profile, name)
            return self._profiles[name]

    def policies(self, role: str) -> Future:
        """The ARNs of the policies attached to ``role``, read once."""
        with self._lock:
            if role not in self._policies:
                self._policies[role] = self._pool.submit(attached_policies, self._iam, role)
            return self._policies[role]

    def _read_profile(self, name: str) -> Profile | None:
        profile = resolve_profile(self._iam, name)
        for role in profile.roles if profile else []:
            self.policies(role)  # started now, waited for by the plan
        return profile


class Attachment:
    """The whole run: read every region, validate, plan, then write. No module calls in here."""

    def __init__(
        self,
        request: Request,
        ec2_clients: dict[str, Any],
        iam: Any,
        check_mode: bool,
        sts: Callable[[], Any] | None = None,
        workers: int | None = None,
    ) -> None:
        self.request = request
        self.ec2 = ec2_clients
        self.iam = iam
        self.check_mode = check_mode
        self.sts = sts
        self.workers = workers
        self.warnings: list[str] = []
        self.failed_regions: set[str] = set()

    def target_profile(self, reads: IamReads) -> Profile:
        profile = resolve_profile(self.iam, self.request.instance_profile)
        if profile is not None:
            if not self.request.policies:
                for role in profile.roles:  # what extending adds when no policies are given
                    reads.policies(role)
            return profile
        name = self.request.instance_profile
        if not self.check_mode or self.sts is None:
            raise PlanError(f"instance profile {name} does not exist; nothing was changed")
        # Check mode after a task that would create the profile: predict its ARN for the report.
        identity = self.sts().get_caller_identity(aws_retry=True)
        arn = name if name.startswith("arn:") else None
        arn = arn or predicted_profile_arn(
            identity["Arn"], identity["Account"], self.request.instance_profile_path, name
        )
        return Profile(name=profile_name_from_arn(arn), arn=arn, exists=False)

    def read(self, reads: IamReads) -> dict[str, RegionView]:
        request = self.request

        target_name = profile_name_from_arn(request.instance_profile)

        def work(region: str) -> RegionView:
            filters = request.filters if region in request.filter_regions else None
            view = read_region(
                self.ec2[region], request.explicit.get(region, []), filters, request.wait_timeout
            )
            if request.existing_profile == "extend":
                for association in view.associations.values():
                    name = profile_name_from_arn(association["IamInstanceProfile"]["Arn"])
                    if name != target_name:
                        reads.profile(name)
            return view

        outcomes = run_in_regions(request.regions, work, self.workers)
        problems = []
        views: dict[str, RegionView] = {}
        for outcome in outcomes:
            # No region here is ever a refusal: every one was named by the user (issue: a filter
            # region that refused used to be skipped and its instances silently got no profile).
            if outcome.error is None:
                views[outcome.region] = outcome.result
                continue
            self.failed_regions.add(outcome.region)
            if isinstance(outcome.exception, PlanError):
                problems.append(f"{outcome.region}: {outcome.exception}")
            else:
                problems.append(f"{outcome.region}: could not read instances ({outcome.error})")
        for region, view in sorted(views.items()):
            if view.missing:
                problems.append(f"{region}: unknown instance(s) {', '.join(view.missing)}")
            gone = [
                i
                for i in request.explicit.get(region, [])
                if view.instances.get(i) not in (None, *ATTACHABLE_STATES)
            ]
            if gone:
                problems.append(
                    f"{region}: instance(s) cannot get a profile in their state: "
                    + ", ".join(f"{i} ({view.instances[i]})" for i in gone)
                )
        if problems:
            raise PlanError("; ".join(problems) + ". Nothing was changed.")
        return views

    def plan(
        self, views: dict[str, RegionView], target: Profile, reads: IamReads
    ) -> tuple[list[InstancePlan], dict, dict]:
        plans = [
            plan_instance(i, region, state, view.associations.get(i), target, self.request.existing_profile)
            for region, view in sorted(views.items())
            for i, state in sorted(view.instances.items())
        ]
        extend = [p for p in plans if p.operation == "extend"]
        if not extend:
            return plans, {}, {}
        needed = self.request.policies
        if not needed and target.exists:
            needed = sorted({arn for role in target.roles for arn in reads.policies(role).result()})
        if not needed:
            self.warnings.append(
                "no policies to extend existing roles with (policies is empty and the profile's role has none)"
            )
        # Each profile, then each of its roles, is read once, all side by side (IamReads: most were
        # started during the regions' reads): two round trips at most, whatever the number of
        # profiles the fleet already has.
        names = sorted({profile_name_from_arn(p.before or "") for p in extend})
        found = {name: reads.profile(name).result() for name in names}
        roles_of_profile = {name: profile.roles if profile else [] for name, profile in found.items()}
        roles = sorted({role for roles in roles_of_profile.values() for role in roles})
        attached = {role: reads.policies(role).result() for role in roles}
        missing_by_role = plan_role_policies(attached, needed)
        for p in extend:
            settle_extend(p, roles_of_profile, missing_by_role)
        return plans, missing_by_role, attached

    def apply(
        self, plans: list[InstancePlan], missing_by_role: dict[str, list[str]], target: Profile
    ) -> list[str]:
        todo: dict[str, list[InstancePlan]] = {}
        for p in plans:
            if p.operation in ("associate", "replace", "reassociate"):
                todo.setdefault(p.region, []).append(p)
        attachments = [(role, arn) for role, policies in sorted(missing_by_role.items()) for arn in policies]
        # The policy attachments (IAM) and the associations (EC2) do not depend on each other: they
        # run side by side, so the IAM calls add no round trips to the run.
        with ThreadPoolExecutor(max_workers=max(1, min(MUTATION_WORKERS, len(attachments)))) as pool:
            attached = pool.map(lambda pair: self.attach_policy(*pair), attachments)
            outcomes = run_in_regions(
                sorted(todo),
                lambda r: apply_region(self.ec2[r], todo[r], target, self.request.wait_timeout),
                self.workers,
            )
            errors = [e for e in attached if e]
        for outcome in outcomes:
            if outcome.error:
                errors.append(f"{outcome.region}: {outcome.error}")
                self.failed_regions.add(outcome.region)
            elif outcome.result:
                errors.extend(outcome.result)
                self.failed_regions.add(outcome.region)
        return errors

    def attach_policy(self, role: str, arn: str) -> str | None:
        """Attach one policy to a role; the error (reported with the rest) or None."""
        try:
            self.iam.attach_role_policy(RoleName=role, PolicyArn=arn, aws_retry=True)
        except Exception as exc:  # reported with the rest; associations still proceed
            return f"attach {arn} to role {role}: {type(exc).__name__}: {exc}"
        return None

    def run(self) -> Outcome:
        # The profile to give is read alongside the regions, and the profiles to extend as soon as
        # a region names them (IamReads): neither adds a round trip to the run.
        with ThreadPoolExecutor(max_workers=MUTATION_WORKERS) as pool:
            reads = IamReads(self.iam, pool)
            target_read = pool.submit(self.target_profile, reads)
            views = self.read(reads)
            target = target_read.result()
            plans, missing_by_role, attached = self.plan(views, target, reads)
        changed = any(p.operation not in ("none", "skip") for p in plans) or bool(missing_by_role)
        errors: list[str] = []
        if changed and not self.check_mode:
            errors = self.apply(plans, missing_by_role, target)
        counts = counts_of(self.request.regions, self.failed_regions)
        return Outcome(changed, target, plans, missing_by_role, attached, errors, self.warnings, counts)


def main() -> None:
    instance_spec = dict(instance_id=dict(type="str", required=True), region=dict(type="str"))
    argument_spec = dict(
        instance_profile=dict(type="str", required=True),
        instance_profile_path=dict(type="str", default="/"),
        instances=dict(type="list", elements="dict", default=[], options=instance_spec),
        filters=dict(type="dict", default={}),
        regions=dict(type="list", elements="str", default=[]),
        existing_profile=dict(type="str", choices=list(EXISTING_PROFILE_MODES), default="extend"),
        policies=dict(type="list", elements="str", default=[]),
        wait_timeout=dict(type="int", default=300),
        **region_options(),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        request = request_from_params(params, module.region)
    except PlanError as exc:
        module.fail_json(msg=str(exc))
    # One session for every client (see RegionalClients); the policy retries throttling and outages.
    clients = RegionalClients(module, retry_decorator())
    home = account_region(clients, [module.region, *request.regions, "us-east-1"])
    check_regions(
        module, clients("ec2", home), region_sources(params, module.region, params["variable_names"])
    )
    ec2_clients = {region: clients("ec2", region) for region in request.regions}
    run = Attachment(
        request,
        ec2_clients,
        clients("iam", home),
        module.check_mode,
        sts=lambda: clients("sts", home),
        workers=params["max_concurrency"],
    )
    try:
        outcome = run.run()
    except PlanError as exc:
        module.fail_json(
            msg=str(exc), region_counts=counts_of(request.regions, run.failed_regions), changed=False
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Reading the instance profile or its roles failed; nothing was changed")
    for warning in outcome.warnings:
        module.warn(warning)
    result = outcome.result()
    if outcome.errors:
        module.fail_json(msg="Some changes failed: " + "; ".join(outcome.errors), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
