#!/usr/bin/env bash
# Builds .cache/compat/<end>: ansible-core as pinned in tests/compat/<end>.txt; from the `ansible`
# bundle named there, the collections this collection depends on (galaxy.yml `dependencies`),
# exactly as the bundle ships them (the wheel is downloaded with --no-deps, so its own core pin does
# not apply, and only those collections are unpacked: the bundle's ~100 others are unused here and
# unpacking its ~40,000 files took minutes; plus ansible.posix for a unit test); what the collection's modules and unit tests import
# (requirements.txt, versions from requirements-constraints.txt); and this checkout linked as
# gdpr.aws_monitoring. Called by `make compat` when an input file changed.
set -euo pipefail
end=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=$root/.cache/compat/$end
pins=$root/tests/compat/$end.txt
bundle=$(sed -n 's/^# bundle: *//p' "$pins")
[ -n "$bundle" ] || { echo "$pins names no '# bundle: ansible==X'" >&2; exit 2; }

rm -rf "$venv"
python3 -m venv "$venv"
# The main venv's pins, without the core (this end sets its own) and what depends on the core.
grep -vE '^(ansible|ansible-core|ansible-compat|ansible-lint|ansible-runner|ansible-builder|molecule|molecule-plugins|resolvelib)==' \
  "$root/requirements-constraints.txt" >"$venv/constraints.txt"
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  -r "$pins" -r "$root/tests/compat/requirements.txt" -c "$venv/constraints.txt"
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
wheels=$root/.cache/compat/wheels
mkdir -p "$wheels"
"$venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps "$bundle" -d "$wheels"
"$venv/bin/python" - "$root/galaxy.yml" "$wheels" "$bundle" "$site" <<'PY'
import pathlib
import sys
import zipfile

import yaml

galaxy, wheels, bundle, site = sys.argv[1:]
name, version = bundle.split("==")
# ansible.posix: not a dependency of the collection, but its json callback is what
# tests/unit/roles/test_role_booleans.py reads ansible-playbook's results with.
names = [*yaml.safe_load(open(galaxy))["dependencies"], "ansible.posix"]
wanted = tuple("ansible_collections/" + fqcn.replace(".", "/") + "/" for fqcn in names)
with zipfile.ZipFile(pathlib.Path(wheels) / f"{name}-{version}-py3-none-any.whl") as wheel:
    members = [m for m in wheel.namelist() if m.startswith(wanted)]
    missing = [w for w in wanted if not any(m.startswith(w) for m in members)]
    if missing:
        sys.exit(f"{bundle} does not bundle {missing}")
    wheel.extractall(site, members)
print(f"{bundle}: unpacked {', '.join(w.split('/', 1)[1].rstrip('/').replace('/', '.') for w in wanted)}")
PY
# The module unit tests' helper patch_module_args exists from ansible-core 2.19 on: backport it.
[ -e "$site/ansible/module_utils/testing.py" ] || cp "$root/tests/compat/module_utils_testing.py" "$site/ansible/module_utils/testing.py"
mkdir -p "$site/ansible_collections/gdpr"
ln -sfn "$root" "$site/ansible_collections/gdpr/aws_monitoring"
touch "$venv/.stamp"
