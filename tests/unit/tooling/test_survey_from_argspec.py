"""tools/survey_from_argspec.py: AWX surveys generated from roles' argument specs.

The last tests run the generator over every role in roles/ and feed each survey answer it allows
back into the role's own argument spec (ansible-core's ArgumentSpecValidator, the same validator
the role runs at start), so a survey can never offer a value the role rejects.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("survey_from_argspec", ROOT / "tools/survey_from_argspec.py")
survey_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(survey_tool)

# Roles a job template runs: those with a `main` entry point. A library role (log_archive: only the
# entry points other roles include) is never a job template, so it has no survey.
ROLES = sorted(
    p.parent.parent
    for p in ROOT.glob("roles/*/meta/argument_specs.yml")
    if "main" in (yaml.safe_load(p.read_text())["argument_specs"] or {})
)

OPTIONS = {
    "demo_name": {"type": "str", "default": "x", "description": "Name, e.g. C(web)."},
    "demo_secret": {"type": "str", "no_log": True, "default": "", "description": "Secret."},
    "demo_class": {"type": "str", "choices": ["STANDARD", "INFREQUENT_ACCESS"], "default": "STANDARD"},
    "demo_days": {"type": "int", "choices": [1, 30, 365], "default": 30, "required": True},
    "demo_ratio": {"type": "float", "default": 0.5},
    "demo_levels": {"type": "list", "elements": "str", "choices": ["ERROR", "WARNING"], "default": ["ERROR"]},
    "demo_prefix": {"type": "str", "default": "{{ gdpr_monitoring_log_group_prefix | default('/gdpr') }}"},
    "demo_path": {"type": "path", "default": "/var/log/x.log"},
    "demo_region": {"type": "str"},
    "demo_group": {"type": "str", "required": True},
    "demo_flag": {"type": "bool", "default": True},
    "demo_names": {"type": "list", "elements": "str", "default": []},
    "demo_extra": {"type": "list", "elements": "dict", "default": []},
    "demo_tags": {"type": "dict"},
}


def write_role(tmp_path: Path, name: str, options: dict) -> Path:
    role = tmp_path / name
    (role / "meta").mkdir(parents=True)
    spec = {"argument_specs": {"main": {"short_description": "demo", "options": options}}}
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return role


def by_variable(survey: dict) -> dict:
    return {item["variable"]: item for item in survey["spec"]}


def test_types_map_to_awx_question_types(tmp_path):
    role = write_role(tmp_path, "demo", OPTIONS)
    survey, skipped = survey_tool.build_survey([(role, survey_tool.load_options(role))])
    items = by_variable(survey)

    assert items["demo_name"] == {
        "question_name": "Name",
        "question_description": "Name, e.g. web.",
        "variable": "demo_name",
        "required": False,
        "type": "text",
        "default": "x",
    }
    assert items["demo_secret"]["type"] == "password"
    assert items["demo_class"]["type"] == "multiplechoice"
    assert items["demo_class"]["choices"] == "STANDARD\nINFREQUENT_ACCESS"
    assert items["demo_class"]["default"] == "STANDARD"
    # int choices stay integers: min/max from the choices, the list in the description
    assert items["demo_days"]["type"] == "integer"
    assert (items["demo_days"]["min"], items["demo_days"]["max"], items["demo_days"]["default"]) == (
        1,
        365,
        30,
    )
    assert items["demo_days"]["required"] is True
    assert items["demo_days"]["question_description"].endswith("One of: 1, 30, 365.")
    assert items["demo_ratio"]["type"] == "float"
    assert items["demo_levels"]["type"] == "multiselect"
    assert items["demo_levels"]["default"] == "ERROR"
    assert items["demo_path"]["type"] == "text"
    assert items["demo_group"]["required"] is True
    assert "default" not in items["demo_group"]
    # no fixed default (none, or a Jinja one): a blank answer would override the role's default
    assert dict(skipped).keys() == {
        "demo_flag",
        "demo_names",
        "demo_extra",
        "demo_tags",
        "demo_prefix",
        "demo_region",
    }
    assert "no fixed default" in dict(skipped)["demo_prefix"]
    assert "type bool" in dict(skipped)["demo_flag"]
    assert "list of dict" in dict(skipped)["demo_extra"]
    assert survey_tool.validate_survey(survey) == []


def test_named_options_without_fixed_default_become_required_questions(tmp_path):
    role = write_role(tmp_path, "demo", OPTIONS)
    survey, skipped = survey_tool.build_survey(
        [(role, survey_tool.load_options(role))], only={"demo_prefix", "demo_region", "demo_name"}
    )
    items = by_variable(survey)
    assert skipped == []
    assert (items["demo_prefix"]["required"], items["demo_region"]["required"]) == (True, True)
    assert "default" not in items["demo_prefix"]
    assert items["demo_name"]["required"] is False


def test_only_selects_and_reports_unknown_variables(tmp_path):
    role = write_role(tmp_path, "demo", OPTIONS)
    survey, skipped = survey_tool.build_survey(
        [(role, survey_tool.load_options(role))], only={"demo_days", "demo_nope"}
    )
    assert [item["variable"] for item in survey["spec"]] == ["demo_days"]
    assert skipped == [("demo_nope", "not in any role's argument spec")]


def test_several_roles_merge_without_duplicates(tmp_path):
    one = write_role(
        tmp_path, "one", {"one_a": {"type": "str", "default": "a"}, "shared_x": {"type": "int", "default": 1}}
    )
    two = write_role(
        tmp_path, "two", {"shared_x": {"type": "int", "default": 2}, "two_b": {"type": "str", "default": ""}}
    )
    roles = [(one, survey_tool.load_options(one)), (two, survey_tool.load_options(two))]
    survey, _skipped = survey_tool.build_survey(roles)
    assert [item["variable"] for item in survey["spec"]] == ["one_a", "shared_x", "two_b"]
    assert by_variable(survey)["shared_x"]["default"] == 1
    assert survey["name"] == "gdpr.aws_monitoring: one, two"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Use C(/gdpr/prod) or I(name).", "Use /gdpr/prod or name."),
        ("See L(the docs,https://example.com) and U(https://x.y).", "See the docs and https://x.y."),
        (["First line", "O(log_groups_extra=[]) V(true)."], "First line log_groups_extra=[] true."),
        (None, ""),
    ],
)
def test_plain_text_strips_ansible_markup(text, expected):
    assert survey_tool.plain_text(text) == expected


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"type": "text", "question_name": "q", "variable": "v"}, "'required' missing"),
        (
            {"type": "checkbox", "question_name": "q", "variable": "v", "required": False},
            "not an AWX survey type",
        ),
        (
            {"type": "integer", "question_name": "q", "variable": "v", "required": False, "default": True},
            "default",
        ),
        (
            {"type": "integer", "question_name": "q", "variable": "v", "required": False, "min": "1"},
            "min must",
        ),
        (
            {"type": "multiplechoice", "question_name": "q", "variable": "v", "required": False},
            "needs choices",
        ),
        (
            {
                "type": "multiplechoice",
                "question_name": "q",
                "variable": "v",
                "required": False,
                "choices": "a\nb",
                "default": "c",
            },
            "not among the choices",
        ),
        (
            {
                "type": "multiplechoice",
                "question_name": "q",
                "variable": "v",
                "required": False,
                "choices": "a\nb",
                "default": "a\nb",
            },
            "takes one default",
        ),
    ],
)
def test_validate_survey_reports_what_awx_rejects(item, message):
    errors = survey_tool.validate_survey({"name": "n", "description": "d", "spec": [item]})
    assert any(message in error for error in errors), errors


def test_validate_survey_rejects_empty_and_duplicated_specs():
    assert survey_tool.validate_survey({"name": "n", "description": "d", "spec": []}) == [
        "'spec' doesn't contain any items"
    ]
    item = {"type": "text", "question_name": "q", "variable": "v", "required": False}
    assert (
        "duplicated"
        in survey_tool.validate_survey({"name": "n", "description": "d", "spec": [item, item]})[0]
    )
    assert survey_tool.validate_survey({"name": "n", "spec": [item]}) == ["field 'description' must be str"]


def test_cli_writes_json_and_reports_skips(tmp_path, capsys):
    role = write_role(tmp_path, "demo", OPTIONS)
    out = tmp_path / "survey.json"
    assert (
        survey_tool.main([str(role), "--only", "demo_days,demo_flag", "--name", "Demo", "-o", str(out)]) == 0
    )
    survey = json.loads(out.read_text(encoding="utf-8"))
    assert survey["name"] == "Demo"
    assert [item["variable"] for item in survey["spec"]] == ["demo_days"]
    assert "skipped demo_flag: type bool" in capsys.readouterr().err


def test_cli_fails_on_a_role_without_spec_or_without_survey_options(tmp_path, capsys):
    assert survey_tool.main([str(tmp_path / "missing")]) == 2
    assert "no meta/argument_specs.yml" in capsys.readouterr().err
    role = write_role(tmp_path, "flags", {"flags_on": {"type": "bool"}})
    assert survey_tool.main([str(role)]) == 1
    assert "doesn't contain any items" in capsys.readouterr().err
    assert survey_tool.main([str(role), "--entry-point", "nope"]) == 2
    assert "no entry point 'nope'" in capsys.readouterr().err


def answers(item: dict) -> list:
    """Every distinct answer the survey question allows that can be enumerated, plus its default."""
    values = []
    if item["type"] == "multiplechoice":
        values = item["choices"].splitlines()
    elif item["type"] == "multiselect":
        values = [item["choices"].splitlines()]
    elif item["type"] == "integer" and "min" in item:
        values = [item["min"], item["max"]]
    if "default" in item:
        default = item["default"]
        values.append(default.splitlines() if item["type"] == "multiselect" else default)
    return values


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_every_role_option_is_asked_or_reported(role):
    options = survey_tool.load_options(role)
    survey, skipped = survey_tool.build_survey([(role, options)])
    assert survey_tool.validate_survey(survey) == []
    asked = {item["variable"] for item in survey["spec"]}
    assert asked | {variable for variable, _reason in skipped} == set(options)
    assert not asked & {variable for variable, _reason in skipped}


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_every_survey_answer_passes_the_roles_argument_spec(role):
    options = survey_tool.load_options(role)
    survey, _skipped = survey_tool.build_survey([(role, options)])
    validator = ArgumentSpecValidator(options)
    required = _required_samples(options)
    checked = 0
    for item in survey["spec"]:
        for value in answers(item):
            result = validator.validate({**required, item["variable"]: value})
            assert result.error_messages == [], (item["variable"], value)
            checked += 1
    assert checked or not survey["spec"]


def _required_samples(options: dict) -> dict:
    """Values for required options so validating one answer is not failed by a missing other one."""
    samples = {"str": "x", "int": 1, "bool": True, "list": [], "dict": {}, "path": "/tmp", "float": 1.0}
    return {
        name: (option.get("choices") or [samples[option.get("type", "str")]])[0]
        for name, option in options.items()
        if option.get("required")
    }


def test_site_knobs_come_first_and_use_the_shared_retention_values(tmp_path, capsys):
    role = write_role(tmp_path, "demo", {"demo_flag": {"type": "bool"}})
    out = tmp_path / "site.json"
    assert survey_tool.main(["--site", str(role), "-o", str(out)]) == 0
    items = json.loads(out.read_text(encoding="utf-8"))["spec"]
    # the prefix has no fixed default (it follows the environment): left out unless named
    assert [item["variable"] for item in items] == [
        "gdpr_monitoring_environment",
        "gdpr_monitoring_retention_days",
    ]
    assert "skipped gdpr_monitoring_log_group_prefix: no fixed default" in capsys.readouterr().err
    assert items[0]["default"] == "prod"
    retention = survey_tool.site_options()["gdpr_monitoring_retention_days"]["choices"]
    assert 365 in retention
    assert (items[1]["min"], items[1]["max"], items[1]["default"]) == (min(retention), max(retention), 365)
    assert (items[0]["question_name"], items[1]["question_name"]) == ("Environment", "Retention days")


def test_cli_needs_roles_or_site(capsys):
    with pytest.raises(SystemExit) as exc:
        survey_tool.main([])
    assert exc.value.code == 2
    assert "give role directories, --site, or both" in capsys.readouterr().err
