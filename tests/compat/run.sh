#!/usr/bin/env bash
# `make compat` for one end of the supported range: in .cache/compat/<end> (built by build.sh),
# run the syntax check of site.yml, the collection's unit tests (plugins and roles: the modules,
# the filters, the Linux and Windows agent render tests through the roles' entry points), and the
# guardduty scenario on the embedded AWS: --check (must predict changes), converge, converge again
# (must change nothing). The tooling tests in tests/unit/*.py (AWX, execution environment, sanity
# helpers, the stand-in agent) test this repository's tools, not the collection on a given core:
# they stay in `make unit`.
set -euo pipefail
end=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=$root/.cache/compat/$end
cd "$root"
export PATH=$venv/bin:$PATH
export ANSIBLE_CONFIG=$root/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH
ANSIBLE_COLLECTIONS_PATH=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1
export ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False
out=$root/.cache/compat/$end.log
: >"$out"

say() { printf '=== compat %s: %s\n' "$end" "$*"; }
versions=$(ansible --version 2>/dev/null | sed -n 1p || true)
collections=$("$venv/bin/python" - "$ANSIBLE_COLLECTIONS_PATH" <<'PY'
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1]) / "ansible_collections"
for name in ("amazon/aws", "community/aws", "ansible/windows"):
    info = json.loads((root / name / "MANIFEST.json").read_text())["collection_info"]
    print(f"{info['namespace']}.{info['name']} {info['version']}", end="  ")
PY
)
say "$versions; $collections"

say "syntax check of site.yml"
ansible-playbook --syntax-check -i localhost, site.yml >>"$out" 2>&1 || { cat "$out"; exit 1; }

# The low end runs every plugin unit test (modules, module_utils, filters incl. the Linux agent's
# render logic), the Windows role's render and script tests, and the -e booleans test of every role.
# The other role tests (tests/unit/roles) run on the main venv in `make unit`; with them a warm
# `make compat` took 13 CPU-minutes, far over its budget. COMPAT_TESTS="tests/unit/plugins
# tests/unit/roles" runs them all on both ends.
# The high end pins the same ansible-core and bundle as the main venv (tests/compat/high.txt), where
# `make unit` runs every one of those tests already. What it adds is a venv without the main venv's
# other tools (ansible-lint, molecule, ansible-runner): there, importing every plugin proves the
# collection needs nothing they pull in, and the syntax check and the scenario prove it runs. Running the 600 plugin tests a
# third time proved nothing more and cost about 150 CPU-seconds of CI's 2 cores.
if [ "$end" = high ]; then
  default_tests=""
else
  # The -e booleans test runs the value false only here (the one 2.17 judges differently from 2.19;
  # see VALUES in tests/unit/roles/test_role_booleans.py): half its four role runs.
  export GDPR_TEST_BOOLEAN_VALUES=${GDPR_TEST_BOOLEAN_VALUES-false}
  default_tests="tests/unit/plugins tests/unit/roles/test_cloudwatch_agent_windows_render.py \
tests/unit/roles/test_cloudwatch_agent_windows_scripts.py tests/unit/roles/test_role_booleans.py"
fi
tests=${COMPAT_TESTS-$default_tests}
if [ -n "$tests" ]; then
  say "unit tests ($tests)"
  rm -rf "$root/.cache/compat/$end-tmp"
  # shellcheck disable=SC2086 # $tests is a list of paths
  "$venv/bin/python" -m pytest -q -p no:cacheprovider --basetemp="$root/.cache/compat/$end-tmp" \
    $tests >>"$out" 2>&1 ||
    { tail -60 "$out"; exit 1; }
  say "$(tail -1 "$out")"
fi

say "every module, module_utils, filter and doc fragment imports in this venv"
"$venv/bin/python" tests/compat/import_plugins.py >>"$out" 2>&1 || { tail -20 "$out"; exit 1; }
say "$(tail -1 "$out")"

say "guardduty scenario on the embedded AWS: check, converge, idempotence"
"$venv/bin/python" tests/harness/moto_server.py run --log "$root/.cache/compat/$end-moto.log" -- \
  bash tests/compat/scenario.sh "$out" || { tail -40 "$out"; exit 1; }
say "ok"
