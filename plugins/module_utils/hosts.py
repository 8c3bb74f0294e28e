# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the filters read from an inventory host's variables (amazon.aws.aws_ec2 hostvars)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def host_region(host_vars: Mapping[str, Any], default_region: Any = None) -> Any:
    """The host's ``placement.region`` (aws_ec2 inventory), else ``default_region``.

    A ``placement`` that is not a mapping (a host from another inventory that uses the name for
    something else) counts as absent rather than failing the filter.
    """
    placement = host_vars.get("placement") or {}
    return (placement.get("region") if isinstance(placement, Mapping) else None) or default_region
