"""The Windows agent role's own rendering path, run by ansible-playbook on the controller.

No Windows host can run here, so these tests run the role's ``render`` and ``plan`` entry points
(exactly the set_fact code ``tasks/main.yml`` runs between IIS discovery on the host and writing
the fragment with win_copy) on localhost, with IIS discoveries shaped like the JSON
``files/discover_iis.ps1`` prints, write ``cloudwatch_agent_windows_fragment_json`` to files, and
check the result against the agent's config rules (schema subset below, written from the agent's
documented JSON schema: only keys the agent accepts, its enums and required keys).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from controller_play import ansible_playbook, write_playbook

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import cwagent

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "cloudwatch_agent_windows"
PREFIX = "/gdpr/test"
RETENTION = 400

DEFAULTS = {"directory": r"%SystemDrive%\inetpub\logs\LogFiles", "logFormat": "W3C"}
LAYOUTS: dict[str, dict] = {
    "default_site": {
        "iis_installed": True,
        "site_defaults": DEFAULTS,
        "central_log": {},
        "sites": [{"id": "1", "name": "Default Web Site", "protocols": "http", "log_file": {}}],
        "environment": {"SystemDrive": "C:"},
    },
    "several_sites": {
        "iis_installed": True,
        "site_defaults": DEFAULTS,
        "central_log": {},
        "sites": [
            {"id": "1", "name": "Default Web Site", "protocols": "http", "log_file": {}},
            {"id": "2", "name": "shop", "protocols": "https,http", "log_file": {}},
            {"id": "5", "name": "api", "protocols": "https", "log_file": {"logFormat": "W3C"}},
            {"id": "7", "name": "uploads", "protocols": "ftp", "log_file": {}},
            {"id": "8", "name": "quiet", "protocols": "http", "log_file": {"enabled": "false"}},
        ],
        "environment": {"SystemDrive": "C:"},
    },
    "custom_directory": {
        "iis_installed": True,
        "site_defaults": DEFAULTS,
        "central_log": {},
        "sites": [
            {"id": "1", "name": "Default Web Site", "protocols": "http", "log_file": {}},
            # trailing separator, an own variable, a lower-case system variable
            {"id": "3", "name": "intranet", "protocols": "http", "log_file": {"directory": "D:\\Logs\\"}},
            {"id": "4", "name": "web", "protocols": "https", "log_file": {"directory": r"%LOGROOT%\web"}},
            {"id": "6", "name": "sys", "protocols": "http", "log_file": {"directory": r"%systemdrive%\wl"}},
        ],
        "environment": {"SystemDrive": "C:", "LOGROOT": r"E:\Logs"},
    },
    "iis_absent": {
        "iis_installed": False,
        "site_defaults": {},
        "central_log": {},
        "sites": [],
        "environment": {"SystemDrive": "C:"},
    },
    # IIS on a D: system drive, ANSI logs (logInUTF8="false", code page 1252)
    "ansi_on_d": {
        "iis_installed": True,
        "log_in_utf8": "false",
        "ansi_code_page": "1252",
        "site_defaults": {"logFormat": "W3C"},
        "central_log": {},
        "sites": [{"id": "1", "name": "Default Web Site", "protocols": "http", "log_file": {}}],
        "environment": {"SystemDrive": "D:"},
    },
    # Shared Configuration on a share the session cannot read: the fallback, on the host's drive
    "shared_unreadable": {
        "iis_installed": True,
        "shared_config": True,
        "config_path": r"\\files\iis\applicationHost.config",
        "config_error": r"\\files\iis\applicationHost.config: Access to the path is denied.",
        "site_defaults": {},
        "central_log": {},
        "sites": [],
        "environment": {"SystemDrive": "E:"},
    },
}  # fmt: skip
EXPECTED_IIS = {
    "default_site": {r"C:\inetpub\logs\LogFiles\W3SVC1\*.log": "{instance_id}/W3SVC1"},
    "several_sites": {
        r"C:\inetpub\logs\LogFiles\W3SVC1\*.log": "{instance_id}/W3SVC1",
        r"C:\inetpub\logs\LogFiles\W3SVC2\*.log": "{instance_id}/W3SVC2",
        r"C:\inetpub\logs\LogFiles\W3SVC5\*.log": "{instance_id}/W3SVC5",
    },
    "custom_directory": {
        r"C:\inetpub\logs\LogFiles\W3SVC1\*.log": "{instance_id}/W3SVC1",
        r"D:\Logs\W3SVC3\*.log": "{instance_id}/W3SVC3",
        r"E:\Logs\web\W3SVC4\*.log": "{instance_id}/W3SVC4",
        r"C:\wl\W3SVC6\*.log": "{instance_id}/W3SVC6",
    },
    "iis_absent": {r"C:\inetpub\logs\LogFiles\W3SVC*\*.log": "{instance_id}"},
    "ansi_on_d": {r"D:\inetpub\logs\LogFiles\W3SVC1\*.log": "{instance_id}/W3SVC1"},
    "shared_unreadable": {r"E:\inetpub\logs\LogFiles\W3SVC*\*.log": "{instance_id}"},
}
# Fallback entries follow every matching file (a glob alone gives the agent only the newest one).
FALLBACK_LAYOUTS = {"iis_absent", "shared_unreadable"}
EXPECTED_ENCODING = {"ansi_on_d": "windows-1252"}
EXPECTED_GROUPS = {
    f"{PREFIX}/iis/access",
    f"{PREFIX}/windows/security",
    f"{PREFIX}/windows/system",
    f"{PREFIX}/windows/application",
}

_RETENTION = {"type": "integer", "enum": [-1, *cwagent.RETENTION_DAYS]}
_NAME = {"type": "string", "minLength": 1, "maxLength": 512}
_FILTERS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"type": {"enum": ["include", "exclude"]}, "expression": {"type": "string"}},
        "additionalProperties": False,
    },
}
AGENT_LOGS_SCHEMA = {
    "type": "object",
    "properties": {
        "logs": {
            "type": "object",
            "properties": {
                "logs_collected": {
                    "type": "object",
                    "properties": {
                        "files": {
                            "type": "object",
                            "required": ["collect_list"],
                            "additionalProperties": False,
                            "properties": {
                                "collect_list": {
                                    "type": "array",
                                    "minItems": 1,
                                    "uniqueItems": True,
                                    "items": {
                                        "type": "object",
                                        "required": ["file_path"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "file_path": {"type": "string", "maxLength": 4096},
                                            "log_group_name": _NAME,
                                            "log_stream_name": _NAME,
                                            "log_group_class": {"enum": list(cwagent.LOG_GROUP_CLASSES)},
                                            "retention_in_days": _RETENTION,
                                            "timestamp_format": {"type": "string", "minLength": 1},
                                            "timezone": {"enum": ["Local", "LOCAL", "UTC"]},
                                            "multi_line_start_pattern": {"type": "string", "minLength": 1},
                                            "encoding": {"type": "string", "minLength": 1},
                                            "publish_multi_logs": {"type": "boolean"},
                                            "filters": _FILTERS,
                                        },
                                    },
                                }
                            },
                        },
                        "windows_events": {
                            "type": "object",
                            "required": ["collect_list"],
                            "additionalProperties": False,
                            "properties": {
                                "collect_list": {
                                    "type": "array",
                                    "minItems": 1,
                                    "uniqueItems": True,
                                    "items": {
                                        "type": "object",
                                        "required": ["event_name"],
                                        "anyOf": [
                                            {"required": ["event_levels"]},
                                            {"required": ["event_ids"]},
                                            {"required": ["filters"]},
                                        ],
                                        "additionalProperties": False,
                                        "properties": {
                                            "event_name": {
                                                "type": "string",
                                                "minLength": 1,
                                                "maxLength": 255,
                                            },
                                            "event_levels": {
                                                "type": "array",
                                                "items": {"enum": list(cwagent.EVENT_LEVELS)},
                                            },
                                            "event_ids": {
                                                "type": "array",
                                                "minItems": 1,
                                                "uniqueItems": True,
                                                "items": {"type": "integer", "minimum": 0, "maximum": 65535},
                                            },
                                            "filters": _FILTERS,
                                            "event_format": {"enum": ["text", "xml"]},
                                            "log_group_name": _NAME,
                                            "log_stream_name": _NAME,
                                            "log_group_class": {"enum": list(cwagent.LOG_GROUP_CLASSES)},
                                            "retention_in_days": _RETENTION,
                                        },
                                    },
                                }
                            },
                        },
                    },
                    "additionalProperties": False,
                }
            },
            "required": ["logs_collected"],
        }
    },
    "required": ["logs"],
    "additionalProperties": False,
}


def run_playbook(playbook: list[dict], workdir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    path = write_playbook(playbook, workdir / "playbook.yml")
    return ansible_playbook(path, "-i", "localhost,", "-c", "local", *extra, cwd=workdir, timeout=300)


def role_play(name: str, entry: str, play_vars: dict, tasks_after: list[dict]) -> dict:
    return {
        "name": name,
        "hosts": "localhost",
        "gather_facts": False,
        "vars": play_vars,
        "tasks": [
            {
                "name": f"Run the role's {entry} entry point",
                "ansible.builtin.include_role": {
                    "name": "gdpr.aws_monitoring.cloudwatch_agent_windows",
                    "tasks_from": entry,
                },
            },
            *tasks_after,
        ],
    }


WINDOWS_TASKS = {
    task["name"] for task in yaml.safe_load((ROLE / "tasks" / "install.yml").read_text()) if "name" in task
}
SITE_VARS = {"gdpr_monitoring_environment": "test", "gdpr_monitoring_retention_days": RETENTION}


def keep(key: str, value: str) -> dict:
    """set_fact runs on the controller without a module: results pile up in one fact."""
    return {
        "name": f"Keep {key}",
        "ansible.builtin.set_fact": {
            "test_results": f"{{{{ test_results | default({{}}) | combine({{{key!r}: {value}}}) }}}}"
        },
    }


def write_results(path: Path) -> dict:
    return {
        "name": "Write every result at once",
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Write the results",
                "ansible.builtin.copy": {
                    "content": "{{ test_results | to_json }}",
                    "dest": str(path),
                    "mode": "0644",
                },
            }
        ],
    }


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Fragments for every layout and the plan, from one ansible-playbook run."""
    out = tmp_path_factory.mktemp("cwagent_windows")
    plays = [
        role_play(
            f"Render {layout}",
            "render",
            {**SITE_VARS, "cloudwatch_agent_windows_iis_discovery": discovery},
            [
                # the text the role hands to win_copy, and the checksum it compares with the agent's copy
                keep(layout, "cloudwatch_agent_windows_fragment_json"),
                keep(f"{layout}.sha1", "cloudwatch_agent_windows_fragment_json | hash('sha1')"),
            ],
        )
        for layout, discovery in LAYOUTS.items()
    ]
    plays.append(role_play("Plan", "plan", SITE_VARS, [keep("plan", "cloudwatch_agent_windows_log_groups")]))
    plays.append(write_results(out / "results.json"))
    result = run_playbook(plays, out)
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads((out / "results.json").read_text())
    for layout in LAYOUTS:
        results[layout] = results[layout].encode("utf-8")
    return results


def collected(raw: bytes) -> tuple[list[dict], list[dict]]:
    logs = json.loads(raw)["logs"]["logs_collected"]
    return logs.get("files", {}).get("collect_list", []), logs["windows_events"]["collect_list"]


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_fragment_is_valid_agent_json(rendered, layout):
    fragment = json.loads(rendered[layout])
    jsonschema.validate(fragment, AGENT_LOGS_SCHEMA)
    # ASCII-only, sorted, stable text: the same settings always give the same bytes
    assert rendered[layout].decode("ascii") == json.dumps(fragment, indent=2, sort_keys=True)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_checksum_compared_on_the_host_matches_the_file_written(rendered, layout):
    # configure.yml compares win_stat's sha1 of the agent's byte copy with this hash
    assert rendered[f"{layout}.sha1"] == hashlib.sha1(rendered[layout]).hexdigest()


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_iis_paths_streams_and_w3c_timestamps(rendered, layout):
    files = collected(rendered[layout])[0]
    assert {e["file_path"]: e["log_stream_name"] for e in files} == EXPECTED_IIS[layout]
    for entry in files:
        assert entry["log_group_name"] == f"{PREFIX}/iis/access"
        assert "retention_in_days" not in entry  # the plan carries it, see test_plan_...
        assert entry["timestamp_format"] == "%Y-%m-%d %H:%M:%S"
        assert entry["timezone"] == "UTC"
        assert entry["filters"] == [{"type": "exclude", "expression": "^#"}]
        assert entry.get("publish_multi_logs", False) is (layout in FALLBACK_LAYOUTS)
        assert entry.get("encoding") == EXPECTED_ENCODING.get(layout)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_event_logs_at_audit_levels(rendered, layout):
    events = collected(rendered[layout])[1]
    by_name = {e["event_name"]: e for e in events}
    assert set(by_name) == {"Security", "System", "Application"}
    # Security audit records are level Information (LogAlways): without INFORMATION no logons
    assert set(by_name["Security"]["event_levels"]) == {"CRITICAL", "ERROR", "WARNING", "INFORMATION"}
    for name in ("System", "Application"):
        assert set(by_name[name]["event_levels"]) == {"CRITICAL", "ERROR", "WARNING"}
    for name, entry in by_name.items():
        assert entry["log_group_name"] == f"{PREFIX}/windows/{name.lower()}"
        assert entry["log_stream_name"] == "{instance_id}"
        assert "retention_in_days" not in entry  # the plan carries it, see test_plan_...
        assert entry["event_format"] == "xml"


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_plan_lists_every_group_the_fragment_writes(rendered, layout):
    planned = {g["name"]: g for g in rendered["plan"]}
    assert set(planned) == EXPECTED_GROUPS
    for group in cwagent.log_groups_from_fragment(json.loads(rendered[layout])):
        assert {key: planned[group["name"]][key] for key in group} == group
    assert all(
        g == {**g, "retention_in_days": RETENTION, "log_group_class": "STANDARD"} for g in planned.values()
    )


V = "cloudwatch_agent_windows_"
BAD_INPUT = {
    "retention": ("main", {f"{V}retention_days": 42}, f"{V}retention_days"),
    "site_retention": ("plan", {"gdpr_monitoring_retention_days": 42}, f"{V}retention_days"),
    "level": ("main", {f"{V}security_event_levels": ["LOUD"]}, f"{V}security_event_levels"),
    "fragment_name": ("main", {f"{V}fragment_name": r"..\evil.json"}, f"{V}fragment_name must be"),
    "extra_source": ("main", {f"{V}extra_files": [{"path": "C:\\a.log", "source": "Not Valid"}]},
                     f"{V}extra_files[0].source"),
    "extra_event": ("render", {f"{V}extra_event_logs": [{"name": "X"}]}, "source"),
    "msi_path": ("main", {f"{V}msi_path": "agent.msi"}, f"{V}msi_path"),
}  # fmt: skip


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """For each bad input (and the defaults): the task that failed and its message, one run."""
    out = tmp_path_factory.mktemp("cwagent_windows_bad")
    cases = {**BAD_INPUT, "defaults": ("main", {}, "")}
    plays = []
    for case, (entry, role_vars, _message) in cases.items():
        # No embedded AWS here: the log groups step (tested below, against moto) is switched off.
        role_vars = {f"{V}manage_log_groups": False, **role_vars}
        play = role_play(f"Input {case}", entry, role_vars, [])
        play["tasks"] = [
            {
                "name": "Run the role and record where it stops",
                "block": play["tasks"],
                "rescue": [
                    keep(
                        case, "{'task': ansible_failed_task.name, 'msg': ansible_failed_result.msg | string}"
                    )
                ],
            }
        ]
        plays.append(play)
    plays.append(write_results(out / "results.json"))
    result = run_playbook(plays, out)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((out / "results.json").read_text())


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_rejected_on_the_controller_before_any_host_task(refusals, case):
    assert case in refusals, f"{case} was not refused"
    assert BAD_INPUT[case][2] in refusals[case]["msg"]
    # refused by the argument specs, validate.yml or the filter, never later
    assert refusals[case]["task"] not in WINDOWS_TASKS


def test_valid_defaults_pass_every_controller_check_and_reach_the_host(refusals):
    """With defaults, validation and plan succeed and the first Windows module runs (and, on this
    Linux controller, fails for want of PowerShell): nothing before it refused the input."""
    assert refusals["defaults"]["task"] == "Create the staging directory for Administrators and SYSTEM only"
    # ansible-core 2.19 names PowerShell, 2.17 asks for an interpreter; never the controller-side
    # AttributeError win_powershell's `path:` raised on 2.17 with ansible.windows 3.1-3.6
    message = refusals["defaults"]["msg"]
    assert "powershell" in message or "interpreter" in message
    assert "get_text_file_contents" not in message


def test_syntax_check_covers_the_windows_tasks(tmp_path):
    play = {
        "name": "Whole role, statically imported",
        "hosts": "all",
        "gather_facts": False,
        "roles": [{"role": "gdpr.aws_monitoring.cloudwatch_agent_windows"}],
    }
    result = run_playbook([play], tmp_path, "--syntax-check")
    assert result.returncode == 0, result.stdout + result.stderr


def _win_powershell_tasks() -> list[dict]:
    found = []
    for tasks_file in (ROLE / "tasks").glob("*.yml"):
        for task in yaml.safe_load(tasks_file.read_text()) or []:
            for inner in [task, *task.get("block", [])]:
                module = inner.get("ansible.windows.win_powershell")
                if module:
                    found.append(module)
    return found


def test_every_powershell_script_the_tasks_use_is_shipped():
    scripts = set()
    for module in _win_powershell_tasks():
        match = re.fullmatch(
            r"\{\{ lookup\('ansible\.builtin\.file', '([\w.]+\.ps1)'\) \}\}", module["script"]
        )
        assert match, module["script"]
        scripts.add(match.group(1))
    assert scripts == {"prepare_staging.ps1", "discover_iis.ps1", "inspect_msi.ps1", "apply_fragment.ps1"}
    for script in scripts:
        assert (ROLE / "files" / script).is_file()


def test_scripts_are_passed_as_text_not_path():
    """Issue 17 item 1: win_powershell's ``path`` does not exist before ansible.windows 3.1.0, and
    3.1-3.6 call DataLoader.get_text_file_contents, which only ansible-core 2.19 has. ``script``
    (the file's text through the file lookup) works on the whole declared range."""
    modules = _win_powershell_tasks()
    assert len(modules) == 4
    assert all("path" not in module and "script" in module for module in modules)


# --- Issue 10 item 5: booleans given on the command line (-e x=false / -e x=true) --------------
ARGSPEC = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())
BOOLEANS = sorted(
    name for name, spec in ARGSPEC["argument_specs"]["main"]["options"].items() if spec.get("type") == "bool"
)


def _conditions(node: object) -> list[str]:
    """Every Jinja expression a task evaluates as a condition (when, changed_when, failed_when,
    assert's that), and every templated string (where a boolean may be passed on)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("when", "changed_when", "failed_when", "that"):
                found += [str(v) for v in (value if isinstance(value, list) else [value])]
            else:
                found += _conditions(value)
    elif isinstance(node, list):
        for item in node:
            found += _conditions(item)
    elif isinstance(node, str):
        found += re.findall(r"\{\{(.*?)\}\}", node, re.DOTALL)
    return found


@pytest.mark.parametrize(
    "path", [*sorted((ROLE / "tasks").glob("*.yml")), ROLE / "vars" / "main.yml"], ids=str
)
def test_every_boolean_variable_is_converted_where_it_is_used(path):
    """``-e x=false`` gives the string "false": truthy, and on ansible-core 2.19 a conditional error.
    Every use of a boolean variable in a condition or a value the role passes on goes through bool."""
    text_uses = _conditions(yaml.safe_load(path.read_text()))
    for use in text_uses:
        for name in BOOLEANS:
            for match in re.finditer(rf"\b{name}\b(?!\w)", use):
                rest = use[match.end() :].lstrip()
                assert rest.startswith("| bool"), f"{path.name}: {name} used without | bool in: {use}"


def test_booleans_as_strings_from_the_command_line(tmp_path):
    """The role's entry points with every boolean given as -e name=false (and =true): the
    fragment follows the values, and main reaches its first host task (nothing before it trips)."""
    results = {}
    for value in ("false", "true"):
        out = tmp_path / value
        out.mkdir()
        # manage_log_groups=true needs AWS (its own tests run it against moto): false in both runs
        given = {name: value for name in BOOLEANS} | {f"{V}manage_log_groups": "false"}
        extra = [arg for name, text in given.items() for arg in ("-e", f"{name}={text}")]
        run_main = role_play(f"Main with {value}", "main", SITE_VARS, [])
        run_main["tasks"] = [
            {
                "name": "Run the role and record where it stops",
                "block": run_main["tasks"],
                "rescue": [keep("main", "ansible_failed_task.name")],
            }
        ]
        plays = [
            role_play(
                f"Render with {value}",
                "render",
                {**SITE_VARS, "cloudwatch_agent_windows_iis_discovery": LAYOUTS["several_sites"]},
                [keep("fragment", "cloudwatch_agent_windows_fragment_json | from_json")],
            ),
            role_play(
                f"Plan with {value}", "plan", SITE_VARS, [keep("plan", "cloudwatch_agent_windows_log_groups")]
            ),
            run_main,
            write_results(out / "results.json"),
        ]
        result = run_playbook(plays, out, *extra)
        assert result.returncode == 0, result.stdout + result.stderr
        results[value] = json.loads((out / "results.json").read_text())
    off, on = results["false"], results["true"]
    # iis_logs=false: no IIS files at all; true: one stream per site, header lines dropped
    assert "files" not in off["fragment"]["logs"]["logs_collected"]
    assert f"{PREFIX}/iis/access" not in {g["name"] for g in off["plan"]}
    files = on["fragment"]["logs"]["logs_collected"]["files"]["collect_list"]
    assert {e["log_stream_name"] for e in files} == {
        "{instance_id}/W3SVC1",
        "{instance_id}/W3SVC2",
        "{instance_id}/W3SVC5",
    }
    assert all(e["filters"] == [{"type": "exclude", "expression": "^#"}] for e in files)
    first_host_task = "Create the staging directory for Administrators and SYSTEM only"
    assert off["main"] == on["main"] == first_host_task


# --- The role used alone: its log groups get retention from the controller, never shortened -----
# Controller-only against the embedded AWS (moto): the role's real main entry point runs on
# localhost-connected hosts until its first Windows module, which cannot run here; everything
# before it, the log_groups `ensure` step included, is the real code. One inventory host per case
# (its own prefix); "longer" and "missing" share one batch, so one ensure serves both, as for a
# fleet. Masking is off: moto has no data protection policies.
ALONE = "/gdpr/alone"
ALONE_GROUPS = ("iis/access", "windows/security", "windows/system", "windows/application")
ALONE_CASES: dict[str, dict] = {
    # a group kept 3653 days on purpose, the role asking 365: refused, nothing shortened or created
    "refuse": {"precreate": 3653, "retention": 365},
    # the same group, the role asking 3653: accepted, the others created with 3653
    "longer": {"precreate": 3653, "retention": 3653},
    # nothing there: every group created with the configured retention, key and tags
    "missing": {"precreate": None, "retention": 365},
}
ROLE_FQCN = "gdpr.aws_monitoring.cloudwatch_agent_windows"


def _alone_play(hosts: str, out: Path, record: str) -> dict:
    retention = {case: spec["retention"] for case, spec in ALONE_CASES.items()}
    play_vars = {
        f"{V}log_group_prefix": f"{ALONE}/{{{{ inventory_hostname }}}}",
        f"{V}retention_days": f"{{{{ {retention!r}[inventory_hostname] }}}}",
        "log_groups_data_protection": False,
    }
    outcome = (
        "{'task': ansible_failed_task.name, 'msg': ansible_failed_result.msg | default('') | string,"
        " 'pending': log_groups__pending | default(none)}"
    )
    run = {
        "name": "Run the role and record where it stops",
        "block": [{"name": "The Windows role alone", "ansible.builtin.include_role": {"name": ROLE_FQCN}}],
        "rescue": [
            {
                "name": "Record it",
                "delegate_to": "localhost",
                "ansible.builtin.copy": {
                    "content": f"{{{{ {outcome} | to_json }}}}",
                    "dest": f"{out}/{record}-{{{{ inventory_hostname }}}}.json",
                    "mode": "0644",
                },
            }
        ],
    }
    return {
        "name": f"Role alone: {record}",
        "hosts": hosts,
        "gather_facts": False,
        "vars": play_vars,
        "tasks": [run],
    }


def _groups(logs, case: str) -> dict[str, dict]:
    found = logs.describe_log_groups(logGroupNamePrefix=f"{ALONE}/{case}/")["logGroups"]
    return {g["logGroupName"].removeprefix(f"{ALONE}/{case}/"): g for g in found}


@pytest.fixture(scope="module")
def alone(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, dict]:
    """Every case in one ansible-playbook run; returns where each stopped, the groups and their tags."""
    import boto3

    logs = boto3.client("logs", region_name="eu-west-1")
    # The user's own group, encrypted with the user's own key: kept (moto has no AssociateKmsKey).
    own_key = boto3.client("kms", region_name="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    for case, spec in ALONE_CASES.items():
        if spec["precreate"]:
            name = f"{ALONE}/{case}/windows/security"
            logs.create_log_group(logGroupName=name, kmsKeyId=own_key)
            logs.put_retention_policy(logGroupName=name, retentionInDays=spec["precreate"])
    out = tmp_path_factory.mktemp("cwagent_windows_alone")
    plays = [
        _alone_play("refuse", out, "first"),
        _alone_play("longer:missing", out, "first"),
        # the role again in the same run (as after site.yml's log_groups play): nothing left to do
        _alone_play("missing", out, "again"),
    ]
    result = run_playbook(plays, out, "-i", ",".join(ALONE_CASES) + ",")
    assert result.returncode == 0, result.stdout + result.stderr
    results = {f.stem: json.loads(f.read_text()) for f in out.glob("*.json")}
    groups = {case: _groups(logs, case) for case in ALONE_CASES}
    tags = {
        name: logs.list_tags_for_resource(resourceArn=g["logGroupArn"].removesuffix(":*"))["tags"]
        for name, g in groups["missing"].items()
    }
    return results, groups, tags


def _retention(groups: dict[str, dict]) -> dict[str, int | None]:
    return {name: g.get("retentionInDays") for name, g in groups.items()}


def test_alone_refuses_to_shorten_a_longer_group_and_changes_nothing(alone):
    results, groups, _tags = alone
    assert results["first-refuse"]["task"].startswith("Plan - refuse to shorten retention")
    assert f"{ALONE}/refuse/windows/security" in results["first-refuse"]["msg"]
    assert _retention(groups["refuse"]) == {"windows/security": 3653}


def test_alone_keeps_a_longer_group_and_creates_the_others_before_any_host_task(alone):
    results, groups, _tags = alone
    assert results["first-longer"]["task"] in WINDOWS_TASKS  # the first host task: the groups came first
    assert _retention(groups["longer"]) == dict.fromkeys(ALONE_GROUPS, 3653)


def test_alone_creates_missing_groups_with_retention_key_and_tags(alone):
    results, groups, tags = alone
    assert results["first-missing"]["task"] in WINDOWS_TASKS
    assert _retention(groups["missing"]) == dict.fromkeys(ALONE_GROUPS, 365)
    assert all(g.get("kmsKeyId", "").startswith("arn:aws:kms:eu-west-1:") for g in groups["missing"].values())
    assert all(t.get("ManagedBy") == "gdpr.aws_monitoring" for t in tags.values())


def test_groups_applied_earlier_in_the_run_are_not_looked_at_again(alone):
    """site.yml's log_groups play leaves the same log_groups_result as the first ensure here."""
    results, _groups, _tags = alone
    assert results["first-missing"]["pending"]  # the first time, the groups were applied
    assert results["again-missing"]["pending"] == []  # so none of the AWS tasks ran
    assert results["again-missing"]["task"] in WINDOWS_TASKS
