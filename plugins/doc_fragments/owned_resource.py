# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options and notes shared by the modules that make one named resource the collection owns
(module_utils/owned_resource.py)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  adopt_existing:
    description:
      - Manage an existing resource named O(name) that the collection did not create (it lacks the
        C(gdpr-monitoring:managed-by) tag). Without it such a resource is refused before any write.
    type: bool
    default: false
  tags:
    description: Tags added, the C(gdpr-monitoring:managed-by) tag too; tags it has are never removed.
    type: dict
    default: {}
  variable_names:
    description:
      - "What the caller (usually a role) calls this module's options, for example
        C({name: cloudtrail_bucket_name, retention_days: cloudtrail_retention_days}). Refusals then name
        the variable the user set instead of the module option."
    type: dict
    default: {}
notes:
  - Supports check mode and diff mode. Everything is read before anything is written; a refusal
    writes nothing.
"""
