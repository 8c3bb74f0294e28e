"""The agent's stored-file-name rule has one home (module_utils/cwagent.py ``stored_name``); the
Windows role reads it through the ``cwagent_stored_name`` filter (it was a regex in its vars)."""

from __future__ import annotations

import pytest

from ansible_collections.gdpr.aws_monitoring.plugins.filter import cwagent_linux
from ansible_collections.gdpr.aws_monitoring.plugins.filter.cwagent import FilterModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import cwagent

CASES = [
    ("gdpr-aws-monitoring.json", "file_gdpr-aws-monitoring.json"),
    ("/opt/aws/amazon-cloudwatch-agent/etc/gdpr.json", "file_gdpr.json"),
    ("/etc/gdpr/my config:v2.json", "file_my_config_v2.json"),
    ("/etc/gdpr/dir/", "file_dir"),
]


@pytest.mark.parametrize(("path", "stored"), CASES)
def test_stored_name_rule(path, stored):
    assert cwagent.stored_name(path) == stored
    assert FilterModule().filters()["cwagent_stored_name"](path) == stored


@pytest.mark.parametrize(("path", "stored"), CASES)
def test_the_linux_filter_agrees_until_it_delegates(path, stored):
    """cwagent_linux_stored_name still has its own copy (the Linux role is being rebuilt): same answers."""
    assert cwagent_linux.cwagent_linux_stored_name(path) == stored
