#!/usr/bin/env bash
# `make demo`: the main job on an embedded AWS, no account needed. Runs under
# tests/harness/moto_server.py, which exported AWS_URL and dummy credentials for us.
# Nothing is faked but AWS itself (moto) and the agent package (the tests' stand-in).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$here"
: "${AWS_URL:?run me through make demo (it starts the embedded AWS)}"
export ANSIBLE_CONFIG="$root/ansible.cfg"
export ANSIBLE_PYTHON_INTERPRETER=auto_silent

podman_ok=false
if command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1; then
  podman_ok=true
fi

if $podman_ok; then
  bash "$root/tests/image/build.sh"
  bash "$root/tests/cwagent_standin/build.sh" "$root/.cache/standin"
  package="$root/.cache/standin/amazon-cloudwatch-agent.deb"
  trap 'ansible-playbook -i localhost, teardown.yml || echo "demo: removing the containers failed" >&2' EXIT
  ansible-playbook fleet.yml
  # --flush-cache: the fleet was just made, so the cached inventory (if any) is stale.
  ansible-playbook -i inventory/demo.aws_ec2.yml --flush-cache "$root/site.yml" \
    -e "@$here/demo_vars.yml" -e "cloudwatch_agent_linux_package_file=$package"
else
  echo "podman is not usable here: running the controller plays only (GuardDuty, log groups, IAM)."
  ansible-playbook fleet.yml -e demo_with_containers=false
  ansible-playbook -i inventory/demo.aws_ec2.yml --flush-cache "$root/site.yml" -e "@$here/demo_vars.yml" \
    --skip-tags agents
fi
