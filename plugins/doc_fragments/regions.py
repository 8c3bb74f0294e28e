# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options and notes shared by the collection's multi-region modules (module_utils/regions.py)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  max_concurrency:
    description:
      - How many regions are worked at the same time. V(0) (the default) works every region at once,
        up to 64. Set a lower number for accounts whose API rate limits are shared with other tools.
    type: int
    default: 0
  variable_names:
    description:
      - "What the caller (usually a role) calls this module's options, for example
        C({regions: guardduty_regions}). Errors about an option, such as an unknown region, then name
        the variable the user set instead of the module option."
    type: dict
    default: {}
notes:
  - Every AWS call is retried on throttling (C(ThrottlingException), C(Throttling),
    C(TooManyRequestsException), C(RequestLimitExceeded) and similar), HTTP 5xx answers (except a
    bare HTTP 500 without an AWS error, what an endpoint answers for a call it does not implement) and
    lost, reset or timed-out connections, with jittered exponential backoff - a random sleep of up to
    0.25 s doubling with every retry, at most 20 s per sleep - for at most 10 attempts per call and
    no retry starting later than 120 s after the call's first attempt. botocore's own retries are
    off, so these bounds are the real ones. Other errors are not retried.
  - Regions the user names are checked against C(ec2:DescribeRegions) before any change; a region AWS
    does not know fails the module naming it (and the variable it came from, see O(variable_names)).
  - A region counts as refused (skipped, reported) only when the module chose it itself, the account
    has not enabled it (an opt-in region whose C(OptInStatus) is C(not-opted-in)), and it answers like
    such regions do (C(UnrecognizedClientException), C(InvalidClientTokenId), C(AuthFailure),
    C(OptInRequired)). Any other error, and any error in a region the user named, fails the module
    after all regions ran, naming each region and its error; a region that failed after a write
    counts as changed.
"""
