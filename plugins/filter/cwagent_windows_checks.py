# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions on what the Windows host reported, made on the controller where they are unit-tested.

The cloudwatch_agent_windows role's scripts only report facts: ``files/inspect_msi.ps1`` the MSI's
Authenticode signature, chain and versions; ``files/apply_fragment.ps1`` how append-config and
the restart went. Whether to install, and what to tell the user when the agent did not take the
fragment, is decided here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Extended key usage "Code Signing": a certificate without it cannot vouch for an installer.
CODE_SIGNING_EKU = "1.3.6.1.5.5.7.3.3"
_VERSION_RE = re.compile(r"^\s*(\d+(?:\.\d+)*)")


def subject_attributes(lines: Any) -> dict[str, list[str]]:
    """``["CN=Amazon.com Services LLC", "O=...", ...]`` (X500DistinguishedName.Decode with
    UseNewLines and DoNotUseQuotes) -> ``{"CN": [...], "O": [...]}``; attribute names upper-cased."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    attributes: dict[str, list[str]] = {}
    for line in lines or []:
        name, sep, value = str(line).partition("=")
        if sep:
            attributes.setdefault(name.strip().upper(), []).append(value.strip())
    return attributes


def parse_version(text: Any) -> tuple[int, ...] | None:
    """``"1.300052.0b1166"`` -> ``(1, 300052, 0)``: MSI ProductVersion and the installed
    DisplayVersion compared by their numeric fields. None when there is no leading number."""
    match = _VERSION_RE.match(str(text or ""))
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def _signature_problems(report: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    problems = []
    if report.get("status") != "Valid":
        problems.append(
            f"its Authenticode signature is {report.get('status') or 'missing'} "
            f"({report.get('status_message') or ''})"
        )
    subject = subject_attributes(report.get("subject_lines"))
    for attribute, key in (("CN", "signer_cn"), ("O", "signer_o")):
        wanted = str(expected.get(key) or "")
        found = subject.get(attribute, [])
        if found != [wanted]:
            problems.append(
                f"its signer's {attribute} is {found or 'absent'}, not exactly {wanted!r} "
                f"(cloudwatch_agent_windows_{key})"
            )
    if CODE_SIGNING_EKU not in (report.get("signer_eku") or []):
        problems.append("its signer certificate is not issued for code signing")
    if not report.get("chain_valid"):
        problems.append(f"its certificate chain does not validate: {report.get('chain_status') or 'unknown'}")
    roots = {str(t).replace(" ", "").upper() for t in expected.get("root_thumbprints") or []}
    chain = report.get("chain") or []
    root = str(chain[-1].get("thumbprint", "")).upper() if chain else ""
    if roots and root not in roots:
        issuer = chain[-1].get("subject", "") if chain else "nothing"
        problems.append(
            f"its chain ends at {issuer!r} ({root or 'no thumbprint'}), not at a root in "
            "cloudwatch_agent_windows_signer_root_thumbprints"
        )
    return problems


def _version_problems(report: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    installed = parse_version(report.get("installed_version"))
    offered = parse_version(report.get("msi_version"))
    if installed is None or expected.get("allow_downgrade"):
        return []
    if offered is None:
        version = report.get("msi_version")
        return [f"its ProductVersion {version!r} cannot be compared with the installed agent"]
    if offered < installed:
        return [
            f"it is version {report.get('msi_version')}, older than the installed "
            f"{report.get('installed_version')} "
            "(set cloudwatch_agent_windows_allow_downgrade to install it anyway)"
        ]
    return []


def msi_problems(report: Mapping[str, Any] | None, expected: Mapping[str, Any]) -> list[str]:
    """Why the MSI ``inspect_msi.ps1`` described must not be installed; [] means install it.

    ``expected``: ``signer_cn``, ``signer_o`` (exact), ``root_thumbprints`` (the chain must end at
    one of them; empty list: any root this host trusts), ``verify_signature``, ``allow_downgrade``.
    """
    report = report or {}
    problems = _signature_problems(report, expected) if expected.get("verify_signature", True) else []
    return problems + _version_problems(report, expected)


def apply_report(result: Mapping[str, Any] | None, script_errors: Any = None) -> dict[str, Any]:
    """``{"failed": bool, "msg": str}`` for what ``apply_fragment.ps1`` reported.

    A script that stopped before finishing (``completed`` missing) is reported with its own
    errors, never as a rejected fragment. ``failure`` tells the phase: ``download`` (the agent's
    config-downloader, e.g. no instance metadata in ec2 mode: the fragment was never judged),
    ``validation`` (the translator or its schema test rejected the fragment), ``start`` (the config
    was valid but the agent did not start with it).
    """
    result = result or {}
    if not result.get("completed"):
        errors = "; ".join(str(e).strip() for e in (script_errors or []) if str(e).strip())
        return {
            "failed": True,
            "msg": "apply_fragment.ps1 stopped before it finished: " + (errors or "no error was reported"),
        }
    failure = result.get("failure") or ""
    if not failure:
        return {"failed": False, "msg": ""}
    running = result.get("running_after")
    state = (
        "the agent runs with its previous configuration"
        if running
        else "the agent could NOT be started again with its previous configuration either"
    )
    restored = ", ".join(result.get("restored") or []) or "nothing needed restoring"
    heads = {
        "download": "The agent's config-downloader failed, so the fragment was not judged "
        "(in ec2 mode it needs the instance metadata service; elsewhere use cloudwatch_agent_windows_mode)",
        "validation": "The CloudWatch agent rejected the fragment",
        "start": "The fragment is valid but the agent did not start with it",
    }
    parts = [
        f"{heads.get(failure, 'amazon-cloudwatch-agent-ctl.ps1 failed (' + failure + ')')}; "
        f"restored: {restored}; {state}.",
        "Control script output:\n" + str(result.get("agent_output") or "").strip(),
    ]
    # configuration-validation.log is rewritten only by the second validation phase (schema test):
    # after a download or first-phase failure it holds an older run's text, so it is not shown.
    if failure == "validation" and result.get("validation_phase") == 2:
        parts.append("configuration-validation.log:\n" + str(result.get("validation_log") or "").strip())
    if failure == "start" or not running:
        parts.append("amazon-cloudwatch-agent.log (end):\n" + str(result.get("agent_log") or "").strip())
    return {"failed": True, "msg": "\n".join(parts)}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "cwagent_windows_msi_problems": msi_problems,
            "cwagent_windows_apply_report": apply_report,
        }
