#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: config_recorders
short_description: AWS Config recording all supported resources, with a delivery channel, in many regions at once
version_added: 0.2.0
description:
  - Keeps, in every listed region (default every region enabled for the account), a configuration
    recorder recording all supported resource types, a delivery channel to one S3 bucket, and the
    recorder started, working the regions concurrently in one call. community.aws.config_recorder and
    config_delivery_channel handle one region per call and have no check mode.
  - Global resource types (IAM) are recorded only in O(global_resources_region).
  - A region holds one recorder and one delivery channel, and a recorder cannot be renamed. A recorder
    named O(recorder_name) is this module's. A recorder of another name is reported
    (RV(recorders[].status=foreign), a warning) and left alone, unless O(manage_existing=true), which
    updates it in place under its own name. The delivery channel follows the same rule.
  - Unless O(role_arn) is given, uses Config's service-linked role C(AWSServiceRoleForConfig),
    creating it when missing.
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  regions:
    description: Regions to cover. Empty is every region enabled for the account.
    type: list
    elements: str
    default: []
  global_resources_region:
    description: The one region whose recorder also records global resource types (IAM).
    type: str
    required: true
  recorder_name:
    description: Name of the recorder (and delivery channel) this module creates.
    type: str
    default: gdpr-monitoring
  role_arn:
    description: Role Config records with. Default the service-linked role (created if missing).
    type: str
  bucket_name:
    description: S3 bucket the delivery channels deliver to (it must exist and allow Config to write).
    type: str
    required: true
  key_prefix:
    description: Prefix of the delivered objects in the bucket.
    type: str
    default: ""
  kms_key_arn:
    description: KMS key Config encrypts the delivered objects with.
    type: str
    default: ""
  sns_topic_arn:
    description: SNS topic Config notifies of deliveries.
    type: str
    default: ""
  delivery_frequency:
    description: How often configuration snapshots are delivered.
    type: str
    choices: [One_Hour, Three_Hours, Six_Hours, Twelve_Hours, TwentyFour_Hours]
    default: TwentyFour_Hours
  manage_existing:
    description: Update a recorder or delivery channel of another name in place instead of leaving it alone.
    type: bool
    default: false
notes:
  - Supports check mode and diff mode (per region, recorder and delivery channel before and after).
  - Needs C(config:DescribeConfigurationRecorders), C(DescribeConfigurationRecorderStatus),
    C(DescribeDeliveryChannels), C(PutConfigurationRecorder), C(PutDeliveryChannel),
    C(StartConfigurationRecorder), C(ec2:DescribeRegions), C(sts:GetCallerIdentity), C(iam:ListRoles),
    C(iam:CreateServiceLinkedRole) (first time) and C(iam:PassRole) on the recorder's role.
extends_documentation_fragment:
  - gdpr.aws_monitoring.regions
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: AWS Config in every enabled region, IAM recorded in eu-west-1, delivered to one bucket
  gdpr.aws_monitoring.config_recorders:
    global_resources_region: eu-west-1
    bucket_name: gdpr-config-111122223333-eu-west-1
    key_prefix: config
  register: config
"""

RETURN = r"""
recorders:
  description: One entry per handled region (in check mode, as it would be after the run).
  returned: always
  type: list
  elements: dict
  contains:
    region:
      description: The region.
      type: str
    status:
      description: V(created), V(updated), V(unchanged), or V(foreign) (another recorder, left alone).
      type: str
    recorder:
      description: The recorder afterwards (name, role_arn, all_supported, include_global_resource_types, recording).
      type: dict
    delivery_channel:
      description: The delivery channel afterwards.
      type: dict
    differences:
      description: What differed from the options (changed, or left alone for another's channel).
      type: list
      elements: str
    actions:
      description: API actions taken (or planned in check mode).
      type: list
      elements: str
role_arn:
  description: The role the recorders use.
  returned: always
  type: str
skipped_regions:
  description: Regions not opted in that refused the request (only without O(regions)).
  returned: always
  type: list
  elements: dict
failed_regions:
  description: Regions where an error happened (the module then fails).
  returned: on failure
  type: list
  elements: dict
region_counts:
  description: How many regions were done, refused (skipped) and failed.
  returned: always
  type: dict
"""

from typing import Any

try:
    import botocore.exceptions
except ImportError:  # AnsibleAWSModule reports the missing SDK itself
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.arns import (
    account_from_arn,
    partition_from_arn,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.config_recorder import (
    FREQUENCIES,
    SERVICE,
    SERVICE_LINKED_ROLE_PATH,
    Desired,
    Plan,
    channel_view,
    plan_region,
    recorder_view,
    service_linked_role_arn,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import (
    PartialWrite,
    RegionalClients,
    RegionOutcome,
    account_region,
    finish,
    region_options,
    region_statuses,
    retry_decorator,
    run_in_regions,
    settle_refusals,
    sort_outcomes,
    target_regions,
    variable_name,
)

WHAT = "AWS Config"  # names the work in warnings and the failure message

ARGUMENT_SPEC: dict[str, Any] = {
    "regions": {"type": "list", "elements": "str", "default": []},
    "global_resources_region": {"type": "str", "required": True},
    "recorder_name": {"type": "str", "default": "gdpr-monitoring"},
    "role_arn": {"type": "str"},
    "bucket_name": {"type": "str", "required": True},
    # Neither is a secret (a path in the bucket, a key's ARN): no_log off on purpose.
    "key_prefix": {"type": "str", "default": "", "no_log": False},
    "kms_key_arn": {"type": "str", "default": "", "no_log": False},
    "sns_topic_arn": {"type": "str", "default": ""},
    "delivery_frequency": {"type": "str", "default": "TwentyFour_Hours", "choices": list(FREQUENCIES)},
    "manage_existing": {"type": "bool", "default": False},
    **region_options(),
}


def read_region(client: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The region's recorder (with its recording status) and delivery channel, or None."""
    recorders = client.describe_configuration_recorders(aws_retry=True).get("ConfigurationRecorders") or []
    statuses = (
        client.describe_configuration_recorder_status(aws_retry=True).get("ConfigurationRecordersStatus")
        or []
    )
    channels = client.describe_delivery_channels(aws_retry=True).get("DeliveryChannels") or []
    # Service-linked recorders (made by other AWS services) do not count as the account's recorder.
    recorders = [r for r in recorders if not str(r.get("name", "")).startswith("AWSConfigurationRecorderFor")]
    recorder = recorders[0] if recorders else None
    status = next((s for s in statuses if recorder and s.get("name") == recorder.get("name")), None)
    return recorder_view(recorder, status), channel_view(channels[0] if channels else None)


def apply_plan(client: Any, plan: Plan) -> None:
    for number, action in enumerate(plan.actions):
        try:
            if action.kind == "put_recorder":
                client.put_configuration_recorder(aws_retry=True, **action.params)
            elif action.kind == "put_channel":
                client.put_delivery_channel(aws_retry=True, **action.params)
            elif action.kind == "start":
                client.start_configuration_recorder(aws_retry=True, **action.params)
        except Exception as exc:
            if number:  # an earlier action of the region went through
                raise PartialWrite(exc) from exc
            raise


def service_linked_role(module: AnsibleAWSModule, clients: RegionalClients, home: str) -> tuple[str, bool]:
    """(ARN of Config's service-linked role, whether it was (or would be) created)."""
    iam = clients("iam", home)
    retry = getattr(iam, "retry", None) or retry_decorator()
    try:
        roles = paginated_query_with_retries(
            iam, "list_roles", retry_decorator=retry, PathPrefix=SERVICE_LINKED_ROLE_PATH
        ).get("Roles", [])
        if roles:
            return roles[0]["Arn"], False
        if module.check_mode:
            arn = clients("sts", home).get_caller_identity(aws_retry=True)["Arn"]
            return service_linked_role_arn(partition_from_arn(arn), account_from_arn(arn)), True
        role = iam.create_service_linked_role(AWSServiceName=SERVICE, aws_retry=True)["Role"]
        return role["Arn"], True
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(
            exc, msg="Could not find or create AWS Config's service-linked role. Nothing else was changed"
        )
        raise  # fail_json_aws exits; this line only tells type checkers so


def choose_regions(
    module: AnsibleAWSModule, clients: RegionalClients, home: str
) -> tuple[list[str], dict[str, str]]:
    params = module.params
    names = params["variable_names"]
    sources = {variable_name(names, "global_resources_region"): [params["global_resources_region"]]}
    regions, statuses = target_regions(module, clients("ec2", home), params["regions"], sources)
    if params["global_resources_region"] not in regions:
        module.fail_json(
            msg=f"{variable_name(names, 'global_resources_region')}: {params['global_resources_region']} is not "
            f"among the regions recorded ({', '.join(regions)}): global resources would not be recorded. "
            "Nothing was changed."
        )
    return regions, statuses if params["regions"] else {}


def summarise(
    outcomes: list[RegionOutcome], statuses: dict[str, str], label: str
) -> tuple[dict[str, Any], list[str], list[dict]]:
    report = sort_outcomes(outcomes, WHAT, statuses, label)
    warnings = report.warnings
    recorders: list[dict[str, Any]] = []
    diff: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    for outcome in report.done:
        plan: Plan = outcome.result
        if plan.status == "foreign":
            rec = plan.before["recorder"]
            warnings.append(
                f"AWS Config: {outcome.region} already has the recorder {rec['name']!r} "
                f"(recording: {rec['recording']}): left alone (set manage_existing to manage it)"
            )
        recorders.append(
            {
                "region": outcome.region,
                "status": plan.status,
                "recorder": plan.after["recorder"],
                "delivery_channel": plan.after["delivery_channel"],
                "differences": plan.differences,
                "actions": [a.kind for a in plan.actions],
            }
        )
        diff["before"][outcome.region] = plan.before
        diff["after"][outcome.region] = plan.after
    result = report.result(any(r["actions"] for r in recorders), diff, recorders=recorders)
    return result, warnings, report.failed


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    clients = RegionalClients(module, retry_decorator())
    home = account_region(
        clients, [module.region, params["global_resources_region"], *params["regions"], "us-east-1"]
    )
    regions, statuses = choose_regions(module, clients, home)
    role_arn, role_created = params["role_arn"], False
    if not role_arn:
        role_arn, role_created = service_linked_role(module, clients, home)
    desired = Desired(
        recorder_name=params["recorder_name"],
        global_region=params["global_resources_region"],
        role_arn=role_arn,
        bucket_name=params["bucket_name"],
        key_prefix=params["key_prefix"],
        kms_key_arn=params["kms_key_arn"],
        sns_topic_arn=params["sns_topic_arn"],
        frequency=params["delivery_frequency"],
        manage_existing=params["manage_existing"],
    )

    def work(region: str) -> Plan:
        client = clients("config", region)
        recorder, channel = read_region(client)
        plan = plan_region(region, recorder, channel, desired)
        if plan.changed and not module.check_mode:
            apply_plan(client, plan)
        return plan

    outcomes = run_in_regions(regions, work, params["max_concurrency"])
    if not params["regions"]:
        settle_refusals(outcomes, lambda: region_statuses(clients("ec2", home)))
    result, warnings, failed = summarise(
        outcomes, statuses, variable_name(params["variable_names"], "regions")
    )
    result["role_arn"] = role_arn
    result["changed"] = result["changed"] or role_created
    finish(module, WHAT, result, warnings, failed)


if __name__ == "__main__":
    main()
