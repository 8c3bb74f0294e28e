"""tools/readme_vars.py (``make docs``): README variable tables generated from argument specs.

The last test runs over every directory under roles/, so a role added later is covered too: its
README must carry the generated block (``make docs`` writes it) and the block must match its
meta/argument_specs.yml.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("readme_vars", ROOT / "tools/readme_vars.py")
rv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rv)

ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())
# Roles whose owners are rewriting them this round: they run `make docs` when they land that work and
# take the role off this list (the test below fails once a listed role has its generated block).
PENDING: dict[str, str] = {}

SPEC = """\
---
argument_specs:
  main:
    short_description: demo
    options:
      demo_mode:
        type: str
        default: fast
        choices: [fast, safe]
        description:
          - How to run; O(demo_mode=safe) asks first.
          - See C(demo | filter) and L(the docs,https://example.org).
      demo_targets:
        type: list
        elements: str
        default: []
        description: Targets, for example V(eu-west-1).
      demo_region:
        type: str
        description: Computed default.
  plan:
    short_description: plan only
    options:
      demo_mode:
        type: str
        default: fast
        choices: [fast, safe]
"""


def make_role(tmp_path: Path, readme: str, spec: str = SPEC) -> Path:
    role = tmp_path / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "meta" / "argument_specs.yml").write_text(spec)
    (role / "defaults" / "main.yml").write_text("demo_region: \"{{ lookup('env', 'AWS_REGION') }}\"\n")
    (role / "README.md").write_text(readme)
    return role


def test_markup_becomes_markdown_and_pipes_are_escaped():
    text = rv.markdown(["O(a=b) and V(x), C(y | z)", "I(it) B(bold) L(t,https://u) U(https://v)"])
    assert text == "`a=b` and `x`, `y \\| z` *it* **bold** [t](https://u) https://v"


def test_defaults_types_and_choices_render():
    assert rv.render_default({"default": ""}) == '`""`'
    assert rv.render_default({"default": False}) == "`false`"
    assert rv.render_default({"default": ["a"]}) == '`["a"]`'
    assert rv.render_default({"default": "{{ x }}"}) == "see `defaults/main.yml`"
    assert rv.render_default({"default": [{"name": "x" * 80}]}) == "see `defaults/main.yml`"
    assert rv.render_default({"required": True}) == "required"
    assert rv.render_type({"type": "list", "elements": "dict"}) == "list of dict"
    assert rv.render_description({"description": "D.", "choices": ["", "a"]}) == 'D. One of `""`, `a`.'


def test_hand_table_is_replaced_then_kept_in_step_with_the_spec(tmp_path):
    readme = textwrap.dedent(
        """\
        # demo

        ## Variables

        | Variable | Default | Description |
        |---|---|---|
        | `demo_mode` | `fast` | written by hand |

        Text after the table stays.
        """
    )
    role = make_role(tmp_path, readme)
    assert rv.main(["--check", str(role)]) == 1  # a hand table is stale by definition
    assert rv.main([str(role)]) == 0
    text = (role / "README.md").read_text()
    assert "written by hand" not in text
    assert "| `demo_mode` | str | `fast` | How to run; `demo_mode=safe` asks first." in text
    assert "| `demo_region` | str | see `defaults/main.yml` | Computed default. |" in text
    assert "Entry point `tasks_from: plan`:\n\nAlso reads `demo_mode` (above)." in text
    assert text.endswith("Text after the table stays.\n")
    assert rv.main(["--check", str(role)]) == 0

    # The spec changes, the README does not: --check fails and names the role; make docs fixes it.
    spec = role / "meta" / "argument_specs.yml"
    spec.write_text(SPEC.replace("Targets, for example", "Target regions, for example"))
    assert rv.main(["--check", str(role)]) == 1
    assert rv.main([str(role)]) == 0
    assert "Target regions, for example `eu-west-1`." in (role / "README.md").read_text()


def test_readme_without_a_table_gets_a_variables_section(tmp_path):
    role = make_role(tmp_path, "# demo\n\nWhat it does.\n")
    assert rv.main([str(role)]) == 0
    text = (role / "README.md").read_text()
    assert text.startswith("# demo\n\nWhat it does.\n\n## Variables\n\n" + rv.BEGIN)


def test_role_without_argument_specs_fails(tmp_path, capsys):
    role = tmp_path / "bare"
    role.mkdir()
    assert rv.main(["--check", str(role)]) == 1
    assert "bare: no meta/argument_specs.yml" in capsys.readouterr().err


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_role_readme_table_is_generated_from_its_argument_spec(role):
    """Fails when a README's variable table is stale or hand-written: run `make docs`."""
    readme = (role / "README.md").read_text(encoding="utf-8") if (role / "README.md").is_file() else ""
    if role.name in PENDING:
        assert rv.BEGIN not in readme, f"{role.name} has its generated table now: take it off PENDING"
        return
    assert rv.BEGIN in readme, f"{role.name}/README.md has no generated variable table: run `make docs`"
    assert rv.updated_readme(readme, rv.block(role)) == readme, (
        f"{role.name}/README.md is stale against meta/argument_specs.yml: run `make docs`"
    )
