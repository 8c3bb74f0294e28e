"""docs/awx/configure_awx.yml: AWX configuration as code must match awx.awx and this repository.

No AWX is reachable here, so the playbook is checked statically: every awx.awx task uses only
options the installed awx.awx modules document (and all required ones), every job template names a
playbook that exists, the workflow's nodes point at job templates the playbook creates, and the
survey generator accepts every template's survey arguments and emits surveys AWX would accept.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = ROOT / "docs" / "awx" / "configure_awx.yml"
BIN = Path(sys.executable).parent
_spec = importlib.util.spec_from_file_location("survey_from_argspec", ROOT / "tools/survey_from_argspec.py")
survey_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(survey_tool)


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads Ansible's !unsafe tag as a plain string."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


@functools.cache
def play() -> dict:
    return yaml.load(PLAYBOOK.read_text(encoding="utf-8"), Loader=_Loader)[0]


def templates() -> list[dict]:
    return play()["vars"]["gdpr_awx_templates"]


@functools.cache
def all_module_options() -> dict[str, tuple[set, set]]:
    """Per awx.awx module used: (documented option names incl. aliases, required option names)."""
    modules = sorted({module for module, _args in awx_tasks()})
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(Path(yaml.__file__).parents[1])}
    out = subprocess.run(
        [BIN / "ansible-doc", "-j", *modules], capture_output=True, text=True, check=True, env=env
    ).stdout
    result = {}
    for module, doc in json.loads(out).items():
        options = doc["doc"]["options"]
        names = set(options) | {alias for option in options.values() for alias in option.get("aliases", [])}
        result[module] = (names, {name for name, option in options.items() if option.get("required")})
    return result


def awx_tasks() -> list[tuple[str, dict]]:
    tasks = []
    for task in play()["tasks"]:
        modules = [key for key in task if key.startswith("awx.awx.")]
        if modules:
            tasks.append((modules[0], task[modules[0]]))
    return tasks


def test_playbook_uses_awx_modules():
    used = {module for module, _args in awx_tasks()}
    assert {"awx.awx.project", "awx.awx.inventory_source", "awx.awx.job_template"} <= used


@pytest.mark.parametrize(("module", "args"), awx_tasks(), ids=[m for m, _args in awx_tasks()])
def test_awx_task_options_are_documented(module, args):
    documented, required = all_module_options()[module]
    assert set(args) <= documented, set(args) - documented
    assert required <= set(args), required - set(args)


def test_syntax_check():
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(Path(yaml.__file__).parents[1])}
    result = subprocess.run(
        [BIN / "ansible-playbook", "--syntax-check", "-i", "localhost,", PLAYBOOK],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("template", templates(), ids=[t["name"] for t in templates()])
def test_job_template_playbook_exists(template):
    assert (ROOT / template["playbook"]).is_file(), template["playbook"]
    assert set(template["credentials"]) <= {"aws", "ssh", "winrm"}


def test_workflow_nodes_point_at_created_job_templates():
    prefix = play()["vars"]["gdpr_awx_prefix"]
    workflow = next(args for module, args in awx_tasks() if module == "awx.awx.workflow_job_template")
    nodes = workflow["workflow_nodes"]
    identifiers = {node["identifier"] for node in nodes}
    created = {f"{prefix} - {t['name']}" for t in templates()}
    for node in nodes:
        ujt = node["unified_job_template"]
        if ujt["type"] == "job_template":
            assert ujt["name"].replace("{{ gdpr_awx_prefix }}", prefix) in created, ujt["name"]
        for link in node.get("related", {}).get("success_nodes", []):
            assert link["identifier"] in identifiers
    # every job template except the all-in-one site playbook is a workflow step
    steps = {node["unified_job_template"]["name"].replace("{{ gdpr_awx_prefix }}", prefix) for node in nodes}
    assert created - steps == {f"{prefix} - site"}


def test_only_agent_jobs_are_sliced():
    """Slicing a controller play would run it once per slice, in parallel, on the same AWS objects."""
    for template in templates():
        if Path(template["playbook"]).name in ("cloudwatch_agent_linux.yml", "cloudwatch_agent_windows.yml"):
            assert template["slices"] == "{{ gdpr_awx_agent_slices }}"
        else:
            assert template["slices"] == 1, template["name"]


@pytest.mark.parametrize(
    "template", [t for t in templates() if t["survey"]], ids=[t["name"] for t in templates() if t["survey"]]
)
def test_survey_arguments_generate_a_valid_survey(template, capsys):
    missing = [arg for arg in template["survey"] if arg.startswith("roles/") and not (ROOT / arg).is_dir()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not in this checkout yet")
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        assert survey_tool.main(list(template["survey"])) == 0
    finally:
        os.chdir(cwd)
    survey = json.loads(capsys.readouterr().out)
    assert survey_tool.validate_survey(survey) == []
