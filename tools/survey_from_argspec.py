#!/usr/bin/env python
# Copyright: Contributors to the gdpr.aws_monitoring collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate an AWX / Automation Controller survey from roles' meta/argument_specs.yml.

    survey_from_argspec.py roles/log_groups [roles/agent_iam ...] [--only VAR ...] [-o survey.json]

Mapping (AWX survey types are text, textarea, password, integer, float, multiplechoice, multiselect):

    str                     -> text (password when the option is no_log)
    str with choices        -> multiplechoice
    int / float             -> integer / float
    int with choices        -> integer with min/max of the choices (the role's argument spec still
                               rejects values outside the list before any change; a multiplechoice
                               would hand the role the string "365" instead of the number)
    list of str w/ choices  -> multiselect (AWX passes a real list)
    path                    -> text

With --site the survey starts with the inventory-level knobs the agent roles and log_groups share
(gdpr_monitoring_environment, _log_group_prefix, _retention_days; they are in no role's spec).

Options whose type a survey cannot carry are left out and reported on stderr: bool (a survey answer
is the string "false", and ansible-core 2.19 refuses a string as a condition), lists without choices
and dicts. Set those in the job template's extra variables, where YAML keeps their types.
Defaults are taken from the spec unless they are Jinja templates (those stay the role's business).
An optional question without a default is a trap: AWX (up to 24.x at least) sends a blank answer as
'' or null, which as an extra variable beats the role's computed default. Such options are left out
unless named with --only, and then asked as required questions.
The result is checked against the rules AWX's API applies to a survey spec before it is printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

AWX_TYPES = {
    "text": str,
    "textarea": str,
    "password": str,
    "multiplechoice": str,
    "multiselect": str,
    "integer": int,
    "float": float,
}
ROOT = Path(__file__).resolve().parents[1]
# Ansible documentation markup: C(x), I(x), O(x), V(x), L(text,url), U(url), ...
_MARKUP = re.compile(r"\b(?:[BCEIMOPUV]|RV|L)\(([^()]*)\)")


def site_options() -> dict[str, dict[str, Any]]:
    """The site-wide knobs (README: Site-wide settings) as argument spec options."""
    path = ROOT / "plugins" / "module_utils" / "cwagent.py"
    spec = importlib.util.spec_from_file_location("gdpr_cwagent", path)
    if spec is None or spec.loader is None:
        raise SpecError(f"cannot load {path}")
    cwagent = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cwagent)
    return {
        "gdpr_monitoring_environment": {
            "type": "str",
            "default": "prod",
            "description": "Environment name; the default log group prefix is C(/gdpr/<environment>).",
        },
        "gdpr_monitoring_log_group_prefix": {
            "type": "str",
            "description": "Prefix of every log group (default C(/gdpr/<environment>)).",
        },
        "gdpr_monitoring_retention_days": {
            "type": "int",
            "default": 365,
            "choices": list(cwagent.RETENTION_DAYS),
            "description": "Retention in days of every log group the agents write to.",
        },
    }


class SpecError(Exception):
    """A role's argument spec cannot be read or turned into a survey."""


def plain_text(description: Any) -> str:
    """Return an argument spec description (str or list of str) as one line of plain text."""
    if isinstance(description, list):
        description = " ".join(str(part) for part in description)
    text = " ".join(str(description or "").split())

    def repl(match: re.Match[str]) -> str:
        inner = match.group(1)
        return inner.split(",", 1)[0] if match.group(0).startswith("L(") else inner

    return _MARKUP.sub(repl, text)


def load_options(role_dir: Path, entry_point: str = "main") -> dict[str, dict[str, Any]]:
    """Return the options of one entry point of a role's meta/argument_specs.yml."""
    for name in ("argument_specs.yml", "argument_specs.yaml"):
        path = role_dir / "meta" / name
        if path.is_file():
            break
    else:
        raise SpecError(f"{role_dir}: no meta/argument_specs.yml")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    specs = data.get("argument_specs") or {}
    if entry_point not in specs:
        raise SpecError(f"{path}: no entry point {entry_point!r} (has {', '.join(sorted(specs))})")
    return specs[entry_point].get("options") or {}


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _label(variable: str, prefix: str) -> str:
    short = variable[len(prefix) :] if prefix and variable.startswith(prefix) else variable
    words = short.replace("_", " ").strip()
    return (words[:1].upper() + words[1:]) or variable


def question(
    variable: str, option: dict[str, Any], prefix: str = "", explicit: bool = False
) -> tuple[dict[str, Any] | None, str]:
    """Return (survey question, "") for one option, or (None, reason) when a survey cannot carry it.

    ``explicit``: the user asked for this option by name (--only); an option without a fixed default
    is then asked as a required question instead of being left out.
    """
    kind = option.get("type", "str")
    choices = option.get("choices")
    default = option.get("default")
    item: dict[str, Any] = {
        "question_name": _label(variable, prefix),
        "question_description": plain_text(option.get("description")),
        "variable": variable,
        "required": bool(option.get("required", False)),
    }
    if kind in ("str", "path"):
        if choices:
            item["type"] = "multiplechoice"
            item["choices"] = "\n".join(str(choice) for choice in choices)
        else:
            item["type"] = "password" if option.get("no_log") else "text"
    elif kind in ("int", "float"):
        item["type"] = "integer" if kind == "int" else "float"
        if choices:
            item["min"], item["max"] = min(choices), max(choices)
            allowed = ", ".join(str(choice) for choice in choices)
            item["question_description"] = f"{item['question_description']} One of: {allowed}.".strip()
    elif kind == "list" and option.get("elements", "str") == "str" and choices:
        item["type"] = "multiselect"
        item["choices"] = "\n".join(str(choice) for choice in choices)
        if isinstance(default, list):
            default = "\n".join(str(value) for value in default)
    else:
        elements = f" of {option.get('elements')}" if kind == "list" else ""
        return None, f"type {kind}{elements} cannot be a survey answer; set it in extra variables"
    if default is not None and not _is_template(default):
        item["default"] = default
    elif item["required"]:
        pass
    elif explicit:
        item["required"] = True
    else:
        return None, (
            "no fixed default: a blank optional answer reaches the role as '' or null and overrides "
            "its computed default; set it in extra variables, or name it with --only (asked as required)"
        )
    return item, ""


def build_survey(
    roles: list[tuple[Path, dict[str, dict[str, Any]]]],
    only: set[str] | None = None,
    name: str = "",
    description: str = "",
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Return (survey spec, [(variable, reason skipped)]) for the given (role dir, options) pairs."""
    spec: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for role_dir, options in roles:
        prefix = role_dir.name + "_"
        for variable, option in options.items():
            if variable in seen or (only is not None and variable not in only):
                continue
            seen.add(variable)
            item, reason = question(variable, option or {}, prefix, only is not None)
            if item is None:
                skipped.append((variable, reason))
            else:
                spec.append(item)
    if only is not None:
        skipped.extend((variable, "not in any role's argument spec") for variable in sorted(only - seen))
    names = ", ".join(role_dir.name for role_dir, _options in roles)
    survey = {
        "name": name or f"gdpr.aws_monitoring: {names}",
        "description": description or f"Generated from the argument specs of {names}.",
        "spec": spec,
    }
    return survey, skipped


def validate_survey(survey: dict[str, Any]) -> list[str]:
    """Return the errors AWX's survey_spec API would report for this survey (empty when valid)."""
    errors = [
        f"field {field!r} must be {kind.__name__}"
        for field, kind in (("name", str), ("description", str), ("spec", list))
        if not isinstance(survey.get(field), kind)
    ]
    if errors:
        return errors
    if not survey["spec"]:
        return ["'spec' doesn't contain any items"]
    variables: set[str] = set()
    for idx, item in enumerate(survey["spec"]):
        errors.extend(_validate_question(idx, item, variables))
    return errors


def _validate_question(idx: int, item: dict[str, Any], variables: set[str]) -> list[str]:
    for field in ("type", "question_name", "variable", "required"):
        kind = bool if field == "required" else str
        if not isinstance(item.get(field), kind):
            return [f"question {idx}: {field!r} missing or not {kind.__name__}"]
    errors = []
    if item["variable"] in variables:
        errors.append(f"question {idx}: variable {item['variable']!r} duplicated")
    variables.add(item["variable"])
    qtype = item["type"]
    if qtype not in AWX_TYPES:
        return [*errors, f"question {idx}: type {qtype!r} is not an AWX survey type"]
    default = item.get("default", "")
    # bool is an int subclass in Python but not a valid integer answer for AWX's JSON checks
    if default != "" and (not isinstance(default, AWX_TYPES[qtype]) or isinstance(default, bool)):
        errors.append(f"question {idx}: default {default!r} is not a {qtype} value")
    for key in ("min", "max"):
        if item.get(key) is not None and not isinstance(item[key], int):
            errors.append(f"question {idx}: {key} must be an integer")
    if qtype in ("multiplechoice", "multiselect"):
        choices = str(item.get("choices", "")).splitlines()
        if not choices:
            errors.append(f"question {idx}: {qtype} needs choices")
        defaults = str(default).splitlines()
        if qtype == "multiplechoice" and len(defaults) > 1:
            errors.append(f"question {idx}: multiplechoice takes one default")
        errors.extend(
            f"question {idx}: default {value!r} not among the choices"
            for value in defaults
            if value not in choices
        )
    return errors


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roles", nargs="*", type=Path, help="role directories (with meta/argument_specs.yml)")
    parser.add_argument("--entry-point", default="main", help="argument spec entry point (default: main)")
    parser.add_argument(
        "--site", action="store_true", help="start with the site-wide gdpr_monitoring_* knobs"
    )
    parser.add_argument("--only", action="append", help="variables to ask for (repeat or comma-separate)")
    parser.add_argument("--name", default="", help="survey name")
    parser.add_argument("--description", default="", help="survey description")
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    if not args.roles and not args.site:
        parser.error("give role directories, --site, or both")

    only = {v.strip() for value in args.only for v in value.split(",") if v.strip()} if args.only else None
    try:
        roles = [(role.resolve(), load_options(role, args.entry_point)) for role in args.roles]
        if args.site:
            roles.insert(0, (Path("gdpr_monitoring"), site_options()))
    except (OSError, SpecError, yaml.YAMLError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    survey, skipped = build_survey(roles, only, args.name, args.description)
    for variable, reason in skipped:
        sys.stderr.write(f"skipped {variable}: {reason}\n")
    errors = validate_survey(survey)
    if errors:
        sys.stderr.write("".join(f"error: {error}\n" for error in errors))
        return 1
    text = json.dumps(survey, indent=2) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
