#!/usr/bin/env bash
# `make sanity`: ansible-test sanity on this collection, with no network access at test time.
#
# Why the detours (details in tests/sanity/README.md):
#  * ansible-test only works from a directory laid out as .../ansible_collections/gdpr/aws_monitoring
#    and resolves symlinks, so the git-visible files (tracked + untracked-not-ignored, so teammates'
#    new files count) are copied to a temporary .../ansible_collections/gdpr/aws_monitoring, next to
#    links to the dependency collections bundled in the venv. The copy must live outside this git
#    work tree: ansible-test looks for .git upwards and would then see only git's (ignored) view.
#  * ansible-test builds one venv per sanity test, bootstraps pip into it from a get-pip script
#    it downloads from ci-files.testing.ansible.com, and runs pip with an environment stripped of
#    PIP_* variables. So: the pinned sanity requirements are fetched once as wheels with the
#    venv's pip (which does honour this machine's pip settings), the get-pip cache file is
#    generated from PyPI's pip wheel, and ansible-test runs with HOME=.cache/sanity/home whose
#    pip.conf says "no index, only these wheels". After the first run nothing is downloaded and
#    the per-test venvs are reused.
# Usage: tests/sanity/run.sh [extra ansible-test sanity args, e.g. --test validate-modules]
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
venv="${VENV:-$root/.venv}"
case "$venv" in /*) ;; *) venv="$root/$venv" ;; esac
py="$venv/bin/python"
state="$root/.cache/sanity"
home="$state/home"
wheels="$state/wheels"
tree=""
ns=gdpr
name=aws_monitoring

[ -x "$py" ] || { echo "sanity: $py missing; run 'make bootstrap' first" >&2; exit 2; }
start=$(date +%s)

# One run at a time per checkout: ansible-test deletes a venv it finds half-built, so two runs
# sharing the cached venvs would pull them from under each other. A second run waits here.
mkdir -p "$state"
exec 9>"$state/.lock"
if ! flock -n 9; then
  echo "sanity: another run in this checkout holds $state/.lock; waiting"
  flock 9
  start=$(date +%s)
fi
# The copy is private to this run and removed at exit.
tree=$(mktemp -d "${TMPDIR:-/var/tmp}/gdpr.aws_monitoring-sanity.XXXXXX")
trap 'rm -rf "$tree"' EXIT
dest="$tree/ansible_collections/$ns/$name"

pyver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
reqdir="$site/ansible_test/_data/requirements"
pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',\$/\1/p" "$site/ansible_test/_internal/python_requirements.py")
[ -n "$pip_version" ] || { echo "sanity: cannot find ansible-test's pip version" >&2; exit 2; }

# 1. Wheels for every sanity test's pinned requirements plus the pip ansible-test bootstraps.
#    Re-fetched only when ansible-test's requirement files change (a new ansible-core).
want=$(cat "$reqdir"/sanity.*.txt <(echo "pip==$pip_version") | sha256sum | cut -c1-16)
if [ "$(cat "$wheels/.stamp" 2>/dev/null)" != "$want" ]; then
  echo "sanity: fetching wheels for ansible-test's sanity requirements (once)"
  mkdir -p "$wheels"
  "$py" -m pip download -q --disable-pip-version-check --only-binary=:all: -d "$wheels" "pip==$pip_version" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
  for req in "$reqdir"/sanity.*.txt; do
    "$py" -m pip download -q --disable-pip-version-check --only-binary=:all: -d "$wheels" -r "$req" \
      2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
  done
  echo "$want" >"$wheels/.stamp"
fi

echo "sanity: wheels ready after $(($(date +%s) - start))s"

# 2. The private HOME: the get-pip cache file and a pip.conf pointing at the wheels only.
get_pip="$home/.ansible/test/cache/get_pip_${pip_version//./_}.py"
pip_wheel=$(ls "$wheels"/pip-"$pip_version"-*.whl)
if [ ! -s "$get_pip" ] || [ "$pip_wheel" -nt "$get_pip" ]; then
  "$py" "$root/tests/sanity/make_get_pip.py" "$pip_wheel" "$get_pip"
fi
mkdir -p "$home/.config/pip"
cat >"$home/.config/pip/pip.conf" <<EOF
# Written by tests/sanity/run.sh: ansible-test's sanity venvs install from local wheels only.
[global]
no-index = true
find-links = $wheels
disable-pip-version-check = true
EOF

# 3. A fresh copy of the collection, as git sees it (tracked + untracked, minus ignored).
mkdir -p "$dest"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$root" && git ls-files -z -co --exclude-standard \
    | while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done \
    | rsync -a --from0 --files-from=- ./ "$dest/")
else
  rsync -a --exclude-from="$root/.gitignore" --exclude=.git "$root/" "$dest/"
fi
# Dependency collections (doc fragments, module_utils) from the venv, by namespace.
for dep in amazon community ansible; do
  ln -sfn "$site/ansible_collections/$dep" "$tree/ansible_collections/$dep"
done

# 4. Run. ansible-test passes HOME through to everything it starts; no terminal, no colour.
echo "sanity: ansible-test sanity --python $pyver $* (pip $pip_version bootstrap from $get_pip)"
cd "$dest"
rc=0
# Unbuffered, so CI logs keep ansible-test's "Running sanity test" lines next to their errors.
HOME="$home" CI="${CI:-true}" PYTHONUNBUFFERED=1 "$venv/bin/ansible-test" sanity --python "$pyver" --color no "$@" </dev/null || rc=$?
# Results (junit with --junit, lint output) back where CI collects them: tests/output (git-ignored).
if [ -d "$dest/tests/output" ]; then
  mkdir -p "$root/tests/output"
  cp -a "$dest/tests/output/." "$root/tests/output/"
fi
echo "sanity: finished in $(($(date +%s) - start))s with exit code $rc"
exit "$rc"
