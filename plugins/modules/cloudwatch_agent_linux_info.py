#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudwatch_agent_linux_info
short_description: Read in one call what the Linux CloudWatch agent role needs to know about a host
version_added: 0.1.0
description:
  - Read-only. Reports installed packages, which of some files exist, the text of some files, the
    groups of a user, which of some groups exist, whether systemd runs the host and the state of a
    systemd service.
  - Used by the M(gdpr.aws_monitoring.cloudwatch_agent_linux) role so that a run with nothing to do
    costs one remote call instead of one per question.
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  packages:
    description: Package names to look up with dpkg-query or rpm.
    type: list
    elements: str
    default: []
  paths:
    description: Paths whose existence is reported.
    type: list
    elements: path
    default: []
  read:
    description: Files whose text is returned (missing files are left out). Keep them small.
    type: list
    elements: path
    default: []
  user:
    description: User whose groups are reported.
    type: str
  groups:
    description: Group names whose existence is reported.
    type: list
    elements: str
    default: []
  service:
    description: systemd service whose enabled and active state is reported.
    type: str
  active:
    description:
      - systemd units whose active state is reported (aliases such as C(syslog.service) resolve
        to the unit they name), asked in one C(systemctl is-active) call.
    type: list
    elements: str
    default: []
    version_added: 0.3.0
attributes:
  check_mode:
    support: full
    description: Only reads, so it runs the same in check mode.
  diff_mode:
    support: none
    description: Reports no diff; it changes nothing.
"""

EXAMPLES = r"""
- name: Look at the host
  gdpr.aws_monitoring.cloudwatch_agent_linux_info:
    packages: [amazon-cloudwatch-agent, apache2, httpd, nginx]
    paths: [/var/log/auth.log, /var/log/secure]
    read: [/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d/file_gdpr_aws_monitoring_linux.json]
    user: cwagent
    service: amazon-cloudwatch-agent
  register: agent_host
"""

RETURN = r"""
packages:
  description: Installed packages among O(packages), name to version.
  returned: always
  type: dict
  sample: {"amazon-cloudwatch-agent": "1.300049.1b929-1", "nginx": "1.22.1-9"}
paths:
  description: The O(paths) that exist.
  returned: always
  type: list
  elements: str
files:
  description: Text of the O(read) files that exist, path to text.
  returned: always
  type: dict
user_groups:
  description: Groups of O(user) (primary first); null when the user does not exist or none was asked.
  returned: always
  type: list
  elements: str
groups:
  description: The O(groups) that exist.
  returned: always
  type: list
  elements: str
systemd:
  description: Whether systemd is the host's init system (C(/run/systemd/system) exists, as sd_booted() checks).
  returned: always
  type: bool
service:
  description: State of O(service); both false when it is unknown or none was asked.
  returned: always
  type: dict
  contains:
    enabled:
      description: Whether the unit is enabled.
      type: bool
    active:
      description: Whether the unit is active.
      type: bool
active_services:
  description: The O(active) units that are active.
  returned: always
  type: list
  elements: str
"""

import grp
import os
import pwd

from ansible.module_utils.basic import AnsibleModule


def installed_packages(module: AnsibleModule, names: list[str]) -> dict[str, str]:
    if not names:
        return {}
    if module.get_bin_path("dpkg-query"):
        cmd = ["dpkg-query", "-W", "-f", "${Package}\t${db:Status-Status}\t${Version}\n", *names]
        _rc, out, _err = module.run_command(cmd)  # rc 1 when some are unknown: still lists the rest
        rows = [line.split("\t") for line in out.splitlines()]
        return {r[0]: r[2] for r in rows if len(r) == 3 and r[1] == "installed"}
    if module.get_bin_path("rpm"):
        _rc, out, _err = module.run_command(["rpm", "-q", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\n", *names])
        rows = [line.split("\t") for line in out.splitlines()]
        return {r[0]: r[1] for r in rows if len(r) == 2}
    module.fail_json(msg="neither dpkg-query nor rpm found: cannot read the installed packages")
    return {}


def read_files(paths: list[str]) -> dict[str, str]:
    files = {}
    for path in paths:
        try:
            with open(path, "rb") as handle:
                files[path] = handle.read().decode("utf-8", errors="replace")
        except OSError:
            continue
    return files


def user_groups(name: str | None) -> list[str] | None:
    if not name:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    primary = grp.getgrgid(entry.pw_gid).gr_name
    others = sorted(g.gr_name for g in grp.getgrall() if name in g.gr_mem and g.gr_name != primary)
    return [primary, *others]


def existing_groups(names: list[str]) -> list[str]:
    present = []
    for name in names:
        try:
            grp.getgrnam(name)
        except KeyError:
            continue
        present.append(name)
    return present


def systemd_booted(marker: str = "/run/systemd/system") -> bool:
    """sd_booted(): systemd creates this directory at boot; without it systemctl cannot manage units."""
    return os.path.isdir(marker)


def service_state(module: AnsibleModule, name: str | None) -> dict[str, bool]:
    state = {"enabled": False, "active": False}
    systemctl = module.get_bin_path("systemctl")
    if not name or not systemctl:
        return state
    rc, _out, _err = module.run_command([systemctl, "is-enabled", "--quiet", name])
    state["enabled"] = rc == 0
    rc, _out, _err = module.run_command([systemctl, "is-active", "--quiet", name])
    state["active"] = rc == 0
    return state


def active_units(module: AnsibleModule, names: list[str]) -> list[str]:
    """The ``names`` that are active: ``systemctl is-active`` prints one state per unit, in order."""
    systemctl = module.get_bin_path("systemctl")
    if not names or not systemctl:
        return []
    _rc, out, _err = module.run_command([systemctl, "is-active", *names])  # rc 3 when one is not
    states = out.splitlines()
    return [name for name, state in zip(names, states) if state.strip() == "active"]


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            packages=dict(type="list", elements="str", default=[]),
            paths=dict(type="list", elements="path", default=[]),
            read=dict(type="list", elements="path", default=[]),
            user=dict(type="str"),
            groups=dict(type="list", elements="str", default=[]),
            service=dict(type="str"),
            active=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    module.exit_json(
        changed=False,
        packages=installed_packages(module, params["packages"]),
        paths=[p for p in params["paths"] if os.path.exists(p)],
        files=read_files(params["read"]),
        user_groups=user_groups(params["user"]),
        groups=existing_groups(params["groups"]),
        systemd=systemd_booted(),
        service=service_state(module, params["service"]),
        active_services=active_units(module, params["active"]),
    )


if __name__ == "__main__":
    main()
