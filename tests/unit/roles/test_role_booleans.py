"""Every boolean of every role works when passed as ``-e name=false`` / ``-e name=true``.

``-e name=value`` hands the role a *string*. Argument specs validate it but do not convert the
variable, and ansible-core 2.19 refuses a string as a conditional ("Conditionals must have a boolean
result") - after whatever tasks came before have written. Worse, ``{% if name %}`` or
``a if name else b`` silently takes the string ``"false"`` as true. So the roles apply ``| bool``
wherever a boolean decides something. One mechanism checks it for every role, with the booleans
read from each role's ``meta/argument_specs.yml`` (every entry point, ``type: bool``):

* runtime: one playbook with a play per role runs four times under ``--check``: every boolean of
  every role ``true`` then ``false``, once as ``-e name=value`` strings and once as real JSON
  booleans; for each role and value both runs must end the same way, task by task (status and facts
  set). The low end of ``make compat`` runs the value false only (see VALUES). Controller roles
  (guardduty, agent_iam, log_groups) run their main entry point on the embedded AWS; the agent
  roles, which need a managed host for their main entry point, run the entry points the controller
  runs (Linux ``plan``/``render``; Windows ``validate``/``render``/``plan``);
* static: in every task file, vars file and template of the role, every Jinja reference to one of
  its booleans goes through ``| bool`` - this covers the host-side tasks the runtime part cannot
  reach here (package download, MSI install).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import moto_server
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
# Roles with booleans; every role on disk that has some must be listed (test below).
ROLES = [
    "guardduty",
    "agent_iam",
    "log_groups",
    "log_archive",
    "cloudwatch_agent_linux",
    "cloudwatch_agent_windows",
    "flow_logs",
    "config_recorder",
    "cloudtrail",
]
# Roles whose booleans are known not to survive ``-e`` yet: {role: reason}. Marked xfail(strict=True),
# so the mark has to go as soon as the role is fixed.
KNOWN_BROKEN: dict[str, str] = {}
CONTROLLER_ROLES = {
    "guardduty",
    "agent_iam",
    "log_groups",
    "log_archive",
    "flow_logs",
    "config_recorder",
    "cloudtrail",
}
ENTRY_POINTS: dict[str, list[str]] = {
    "guardduty": ["main"],
    "agent_iam": ["main"],
    "log_groups": ["main"],
    "log_archive": ["kms_key", "bucket"],
    "cloudwatch_agent_linux": ["plan", "render"],
    "cloudwatch_agent_windows": ["validate", "render", "plan"],
    "flow_logs": ["main"],
    "config_recorder": ["main"],
    "cloudtrail": ["main"],
}
# Non-boolean settings each entry point needs to run without a real estate.
PLAY_VARS: dict[str, dict[str, Any]] = {
    "guardduty": {"guardduty_regions": ["eu-west-1"]},
    "agent_iam": {
        "agent_iam_instance_filters": {"tag:booleans-test": "yes"},
        "agent_iam_regions": ["eu-west-1"],
    },
    "log_groups": {"log_groups_extra": [{"name": "/gdpr/booleans/extra", "region": "eu-west-1"}]},
    "log_archive": {
        "log_archive_key_alias": "alias/gdpr-booleans",
        "log_archive_key_region": "eu-west-1",
        "log_archive_bucket_name": "gdpr-booleans-archive",
        "log_archive_bucket_region": "eu-west-1",
        "log_archive_bucket_retention_days": 30,
    },
    "flow_logs": {"flow_logs_regions": ["eu-west-1"]},
    "config_recorder": {"config_recorder_regions": ["eu-west-1"], "config_recorder_home_region": "eu-west-1"},
    "cloudtrail": {"cloudtrail_home_region": "eu-west-1", "cloudtrail_data_event_buckets": ["booleans-data"]},
    "cloudwatch_agent_linux": {
        "cloudwatch_agent_linux_web_servers": ["apache", "nginx"],
        # an Amazon Linux 2023 host with an agent too old for the journal: the upgrade boolean decides
        "cloudwatch_agent_linux_host": {
            "os_family": "RedHat",
            "distribution": "Amazon",
            "distribution_major_version": "2023",
            "installed_packages": ["nginx"],
            "version": "1.300049.1",
        },
    },
    "cloudwatch_agent_windows": {
        "cloudwatch_agent_windows_signer_cn": "Amazon.com Services LLC",
        "cloudwatch_agent_windows_signer_o": "Amazon.com Services LLC",
        "cloudwatch_agent_windows_iis_discovery": {
            "iis_installed": True,
            "site_defaults": {"directory": r"%SystemDrive%\inetpub\logs\LogFiles", "logFormat": "W3C"},
            "central_log": {},
            "sites": [{"id": "1", "name": "Default Web Site", "protocols": "http", "log_file": {}}],
            "environment": {"SystemDrive": "C:"},
        },
    },
}
# Booleans the embedded AWS cannot take at one value: moto does not implement CloudWatch Logs data
# protection policies. They keep that value (as a real boolean) in both runs; the static check below
# still covers their uses.
HELD: dict[str, dict[str, bool]] = {
    "log_groups": {"log_groups_data_protection": False},
    "flow_logs": {"flow_logs_data_protection": False},
}
CONDITION_KEYS = {"when", "that", "changed_when", "failed_when", "until"}
JINJA = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)


def role_params(role: str) -> Any:
    return pytest.param(
        role,
        marks=[pytest.mark.xfail(strict=True, reason=f"{role}: {KNOWN_BROKEN[role]}")]
        if role in KNOWN_BROKEN
        else [],
        id=role,
    )


def booleans(role: str) -> list[str]:
    """Top-level ``type: bool`` options of every entry point of the role's argument specs."""
    specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())[
        "argument_specs"
    ]
    return sorted(
        {
            name
            for entry in specs.values()
            for name, option in (entry.get("options") or {}).items()
            if option.get("type") == "bool"
        }
    )


def test_every_role_with_booleans_is_covered():
    on_disk = [p.parent.parent.name for p in REPO.glob("roles/*/meta/argument_specs.yml")]
    assert sorted(role for role in on_disk if booleans(role)) == sorted(ROLES)


# --- static: every Jinja use of a boolean goes through | bool -------------------------------------


def _expressions(node: Any, key: str | None = None) -> Iterator[str]:
    """Jinja expressions of a task file: conditionals whole, other strings' {{ }} / {% %} parts."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _expressions(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from _expressions(item, key)
    elif isinstance(node, str):
        if key in CONDITION_KEYS:
            yield node
        else:
            yield from JINJA.findall(node)
    elif isinstance(node, bool) or node is None:
        return


def role_expressions(role: str) -> Iterator[tuple[str, str]]:
    root = REPO / "roles" / role
    for path in sorted(
        [*root.glob("tasks/**/*.yml"), *root.glob("vars/**/*.yml"), *root.glob("handlers/**/*.yml")]
    ):
        for expression in _expressions(yaml.safe_load(path.read_text())):
            yield str(path.relative_to(REPO)), expression
    for path in sorted(root.glob("templates/**/*")):
        if path.is_file():
            for expression in JINJA.findall(path.read_text()):
                yield str(path.relative_to(REPO)), expression


def bare_uses(expression: str, name: str) -> list[str]:
    """References to ``name`` in ``expression`` not followed by ``| bool`` (quoted mentions aside)."""
    pattern = re.compile(rf"(?<![\w'\"]){re.escape(name)}(?![\w'\"])(?!\s*\|\s*bool\b)")
    return [expression.strip() for match in pattern.finditer(expression) if match]


@pytest.mark.parametrize("role", [role_params(r) for r in ROLES])
def test_every_jinja_use_of_a_boolean_goes_through_bool(role):
    names = booleans(role)  # read once: parsing the argument specs per expression cost seconds
    found = [
        f"{where}: {name} in {expr!r}"
        for where, expr in role_expressions(role)
        for name in names
        for expr in bare_uses(expr, name)
    ]
    assert found == [], "booleans used without | bool:\n" + "\n".join(found)


def test_static_check_catches_a_bare_conditional_and_accepts_bool():
    """The static check itself: a bare use is found, | bool and quoted mentions are not."""
    assert bare_uses("log_groups_kms", "log_groups_kms")
    assert bare_uses("a if log_groups_kms else b", "log_groups_kms")
    assert not bare_uses("log_groups_kms | bool", "log_groups_kms")
    assert not bare_uses("log_groups_kms_key_arns | length", "log_groups_kms")
    assert not bare_uses("'log_groups_kms' ~ x", "log_groups_kms")


# --- runtime: -e strings behave like real booleans -------------------------------------------------


def ansible_env(endpoint: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AWS_URL": endpoint,
            "AWS_ENDPOINT_URL": endpoint,
            "ANSIBLE_COLLECTIONS_PATH": sysconfig.get_paths()["purelib"],
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
        }
    )
    return env


def entry_playbook() -> list[dict[str, Any]]:
    """One play per role (all in one ansible-playbook run: each role's booleans have their own
    names); a failure is rescued so that the next roles still run, and stays in the outcome."""
    return [
        {
            "name": role,
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable, **PLAY_VARS[role]},
            "tasks": [
                {
                    "name": f"{role} entry points",
                    "block": [
                        {
                            "name": f"Run {role} {entry}",
                            "ansible.builtin.include_role": {
                                "name": f"gdpr.aws_monitoring.{role}",
                                "tasks_from": entry,
                            },
                        }
                        for entry in ENTRY_POINTS[role]
                    ],
                    "rescue": [{"name": f"{role} failed", "ansible.builtin.meta": "noop"}],
                }
            ],
        }
        for role in ROLES
    ]


def outcome(stdout: str) -> dict[str, list[tuple[str, str, str]]]:
    """Per role: (task, status, facts set or failure message) of every task its play got to."""
    plays = {}
    for play in json.loads(stdout[stdout.index("{") :])["plays"]:
        steps = []
        for task in play["tasks"]:
            result = task["hosts"].get("localhost", {})
            if result.get("failed"):
                status, detail = "failed", str(result.get("msg", ""))
            elif result.get("skipped"):
                status, detail = "skipped", ""
            else:
                status = "changed" if result.get("changed") else "ok"
                detail = json.dumps(result.get("ansible_facts", {}), sort_keys=True)
            steps.append((task["task"]["name"], status, detail))
        plays[play["play"]["name"]] = steps
    return plays


def extra_vars(value: bool, as_strings: bool) -> list[str]:
    """Every boolean of every role (but HELD ones) as -e name=value strings, or as JSON booleans."""
    names = [name for role in ROLES for name in booleans(role) if name not in HELD.get(role, {})]
    held = {name: v for role_held in HELD.values() for name, v in role_held.items()}
    if as_strings:
        args = [arg for name in names for arg in ("-e", f"{name}={str(value).lower()}")]
    else:
        args = ["-e", json.dumps(dict.fromkeys(names, value))]
    return [*args, "-e", json.dumps(held)]


def run_all(workdir: Path, args: list[str], env: dict[str, str]) -> dict[str, list]:
    workdir.mkdir(parents=True, exist_ok=True)
    playbook = workdir / "booleans.yml"
    playbook.write_text(yaml.safe_dump(entry_playbook(), sort_keys=False))
    # --check: the controller roles only read the estate; the agent entry points only set facts.
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "--check", *args, str(playbook)],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        timeout=600,
        check=False,
    )
    assert proc.stdout.strip(), proc.stderr
    return outcome(proc.stdout)


# The values run here. ``make compat`` sets GDPR_TEST_BOOLEAN_VALUES=false at the low end (2.17):
# there a bare ``when: x`` given the string "true" or "false" is evaluated right (2.19 refuses any
# string, which `make unit` shows for both values), so what only 2.17 can get wrong is a string
# taken for true by Jinja (``a if x else b``, ``not x``) - the "false" run. Templates judge a string
# "true" the same on both cores, so the "true" run there repeated what `make unit` shows, at about
# 70 CPU-seconds a run.
VALUES = [
    value == "true" for value in os.environ.get("GDPR_TEST_BOOLEAN_VALUES", "true,false").split(",") if value
]


@pytest.fixture(scope="module")
def embedded_estate(moto_endpoint: str) -> str:
    """A fresh embedded AWS with an instance agent_iam's filter selects."""
    moto_server.reset(moto_endpoint)
    # One of moto's stock images: looking one up costs seconds.
    boto3.client("ec2", region_name="eu-west-1").run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "booleans-test", "Value": "yes"}]}],
    )
    return moto_endpoint


@pytest.fixture(scope="module")
def runs(embedded_estate: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[bool], dict]]:
    """Per value asked for: the two runs (real booleans, strings) side by side, made when a test of
    that value first needs them, so a value left out of VALUES costs nothing."""
    env = ansible_env(embedded_estate)
    base = tmp_path_factory.mktemp("booleans")
    done: dict[tuple[bool, bool], dict] = {}

    def of(value: bool) -> dict[tuple[bool, bool], dict]:
        if (value, False) not in done:
            keys = [(value, as_strings) for as_strings in (False, True)]
            futures = {
                key: pool.submit(run_all, base / f"{key[0]}-{key[1]}", extra_vars(*key), env) for key in keys
            }
            done.update({key: future.result() for key, future in futures.items()})
        return done

    with ThreadPoolExecutor(max_workers=2) as pool:
        yield of


@pytest.mark.parametrize("value", VALUES, ids=[str(v).lower() for v in VALUES])
@pytest.mark.parametrize("role", [role_params(r) for r in ROLES])
def test_booleans_passed_as_extra_var_strings_work_like_booleans(role, value, runs):
    both = runs(value)
    typed, strings = both[(value, False)].get(role, []), both[(value, True)].get(role, [])
    assert typed, f"{role}: the play ran no task"
    if role in CONTROLLER_ROLES:
        assert all(status != "failed" for _task, status, _facts in typed), typed
    assert strings == typed
