# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules that make ONE named resource the collection owns (s3_log_bucket, cloudtrail_trail)
share: their common options (documented once in doc_fragments/owned_resource.py), the module set-up
with check mode and a required region, the refusal to take over a resource without the collection's
tag, and the caller's variable names in messages.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.log_archive import MANAGED_BY_KEY

OWNED_RESOURCE_OPTIONS: dict[str, dict[str, Any]] = {
    "adopt_existing": {"type": "bool", "default": False},
    "tags": {"type": "dict", "default": {}},
    # Option name -> the caller's variable, e.g. {"name": "cloudtrail_bucket_name"}.
    "variable_names": {"type": "dict", "default": {}},
}


def owned_resource_module(options: dict[str, dict[str, Any]]) -> AnsibleAWSModule:
    """The module with its own ``options`` and the shared ones, check mode on; it fails without a
    region (the resource's home region decides where it is read and made)."""
    module = AnsibleAWSModule(argument_spec={**options, **OWNED_RESOURCE_OPTIONS}, supports_check_mode=True)
    if not module.region:
        module.fail_json(msg="region is required")
    return module


def label(params: dict[str, Any], option: str) -> str:
    """What to call ``option`` in a message: the caller's variable for it, if it said."""
    return (params.get("variable_names") or {}).get(option) or option


def take_over_refusal(params: dict[str, Any], kind: str, adopting: str) -> str:
    """The refusal for a resource named O(name) that lacks the collection's tag (someone else's).

    ``adopting``: what O(adopt_existing) would do to it, said to the user."""
    return (
        f"{label(params, 'name')}: the {kind} '{params['name']}' exists and was not created by "
        f"gdpr.aws_monitoring (no {MANAGED_BY_KEY} tag): choose another name, or set "
        f"{label(params, 'adopt_existing')}: true to {adopting}. Nothing was changed."
    )
