"""The Windows role's PowerShell scripts, checked without Windows.

No PowerShell runs here (Debian has no ``powershell`` package; PSScriptAnalyzer and Microsoft's
parser need PowerShell itself). What runs instead:

* a syntax check with tree-sitter's PowerShell grammar (``tree-sitter-powershell``): every script
  must parse without an error node; the grammar is not Microsoft's parser, so it proves syntax, not
  semantics;
* checks that each fix of issue 17 is present in the script and has the shape its review
  demanded; each of them fails on the scripts as they were before the fix.

What the scripts do on a real host is checked by the ``windows_ec2`` Molecule scenario.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell

FILES = Path(__file__).resolve().parents[3] / "roles" / "cloudwatch_agent_windows" / "files"
SCRIPTS = sorted(FILES.glob("*.ps1"))
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def text(name: str) -> str:
    return (FILES / name).read_text(encoding="utf-8")


def code(name: str) -> str:
    """The script without comment lines, so a fix described only in a comment does not count."""
    return "\n".join(line for line in text(name).splitlines() if not line.lstrip().startswith("#"))


def syntax_errors(source: bytes) -> list[tuple[int, int]]:
    errors = []
    stack = [PARSER.parse(source).root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            errors.append(node.start_point)
        stack.extend(node.children)
    return errors


def test_the_role_ships_exactly_these_scripts():
    assert [p.name for p in SCRIPTS] == [
        "apply_fragment.ps1",
        "discover_iis.ps1",
        "inspect_msi.ps1",
        "prepare_staging.ps1",
    ]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses_as_powershell(script):
    assert syntax_errors(script.read_bytes()) == []
    assert script.read_text(encoding="utf-8").startswith("#Requires -Version 5.1\n")


@pytest.mark.parametrize(
    "broken",
    ["function f( { $x = 1 }", 'if ($a -eq 1 { "x" }', "$h = @{ a = 1", "try { 1 } catch {"],
)
def test_the_syntax_check_catches_broken_powershell(broken):
    assert syntax_errors(broken.encode())


# --- item 4/5: apply_fragment.ps1 --------------------------------------------------------------
def test_control_script_output_is_captured_in_a_child_process_not_with_2_redirect():
    """Item 5: ``& $ctl ... 2>&1`` under $ErrorActionPreference='Stop' lost output when it threw."""
    apply = code("apply_fragment.ps1")
    assert "2>&1" not in apply
    assert "RedirectStandardError = $true" in apply and "RedirectStandardOutput = $true" in apply
    assert "ReadToEndAsync()" in apply  # no deadlock on a full stderr pipe


def test_validation_is_separate_from_the_restart():
    """Item 4: append-config without -s validates only; the restart is its own step."""
    apply = code("apply_fragment.ps1")
    assert re.search(r"'-a', 'append-config'[^\n]*\)", apply)
    assert "'-s'" not in apply and " -s " not in apply
    assert "@('-a', 'stop'" in apply and "@('-a', 'start'" in apply


def test_each_failure_phase_is_named_and_the_validation_log_read_only_after_phase_two():
    apply = code("apply_fragment.ps1")
    for phase in ("'download'", "'validation'", "'start'"):
        assert f"$Ansible.Result.failure = {phase}" in apply
    # the control script prints this before translating: without it the downloader failed
    assert "'Start configuration validation'" in apply
    log_read = apply.index("$Ansible.Result.validation_log = ")
    assert apply.rindex("validation second phase failed", 0, log_read) > apply.rindex(
        "validation_phase = 1", 0, log_read
    )


def test_every_file_the_translator_rewrites_is_restored():
    apply = code("apply_fragment.ps1")
    for name in ("amazon-cloudwatch-agent.toml", "amazon-cloudwatch-agent.yaml", "env-config.json"):
        assert f"'{name}'" in apply
    assert "$StoredFragment.tmp" in apply
    assert "Restore-Files -Saved $saved" in apply


def test_after_a_failed_start_the_previous_config_is_started_again():
    apply = code("apply_fragment.ps1")
    restore = apply.index("Restore-Files -Saved $saved")
    start_again = apply.index("$again = Invoke-ControlScript @('-a', 'start'")
    assert restore < start_again
    assert "$Ansible.Result.running_after = Test-AgentRunning" in apply
    assert "$Ansible.Result.completed = $true" in apply  # the controller knows the script finished


# --- item 11: the agent's fixed locations ------------------------------------------------------
@pytest.mark.parametrize("name", ["apply_fragment.ps1", "prepare_staging.ps1"])
def test_paths_from_the_role_are_expanded_on_the_host(name):
    assert "[Environment]::ExpandEnvironmentVariables(" in code(name)


# --- items 6 and 10: discover_iis.ps1 ----------------------------------------------------------
def test_discovery_reports_log_in_utf8_and_the_ansi_code_page():
    discover = code("discover_iis.ps1")
    assert "'logInUTF8'" in discover
    assert r"Control\Nls\CodePage" in discover and "ACP" in discover


def test_discovery_follows_shared_configuration():
    discover = code("discover_iis.ps1")
    assert "'redirection.config'" in discover
    assert "/configuration/configurationRedirection" in discover
    assert "$report.shared_config = $true" in discover


def test_an_unreadable_configuration_is_reported_not_thrown():
    discover = code("discover_iis.ps1")
    body = discover[discover.index("Read-IisConfiguration -Path $configPath") :]
    assert body.lstrip().startswith("Read-IisConfiguration -Path $configPath\n    }\n    catch {")
    assert "$report.config_error = " in discover


# --- item 8: inspect_msi.ps1 -------------------------------------------------------------------
def test_msi_inspection_reports_chain_eku_subject_and_versions():
    inspect = code("inspect_msi.ps1")
    assert "X509Chain" in inspect and "RevocationMode]::Online" in inspect
    assert "1.3.6.1.5.5.7.3.3" in inspect  # code signing
    assert "DoNotUseQuotes" in inspect  # exact CN/O compared on the controller
    assert "'ProductVersion'" in inspect and "DisplayVersion" in inspect


# --- item 9: prepare_staging.ps1 ---------------------------------------------------------------
def test_staging_directory_acl_is_administrators_and_system_only():
    staging = code("prepare_staging.ps1")
    sddl = re.search(r"\$sddl = '([^']+)'", staging).group(1)
    # owner Administrators, protected DACL, exactly two full-control ACEs: SYSTEM and Administrators
    assert sddl.startswith("O:BAD:P")
    assert sorted(re.findall(r"\(A;OICI;FA;;;(\w\w)\)", sddl)) == ["BA", "SY"]
    assert len(re.findall(r"\(", sddl)) == 2
    # created with that ACL in one call, never with the inherited one first
    assert "[System.IO.Directory]::CreateDirectory($Path, $wanted)" in staging
    assert "New-Item" not in staging
