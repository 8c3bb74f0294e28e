#!/usr/bin/env bash
# `make demo`: the main job on an embedded AWS, no account needed. Runs under
# tests/harness/moto_server.py, which exported AWS_URL and dummy credentials for us.
# Nothing is faked but AWS itself (moto) and the agent package (the tests' stand-in).
# The terminal gets a short account (site_run.py); every step's full output is under .cache/demo/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$here"
: "${AWS_URL:?run me through make demo (it starts the embedded AWS)}"
export ANSIBLE_CONFIG="$root/ansible.cfg"
export ANSIBLE_PYTHON_INTERPRETER=auto_silent
logs="$root/.cache/demo"
rm -rf "$logs"
mkdir -p "$logs"
started=$SECONDS

# Runs a step with its output in $logs/<name>.log; on failure shows the end of it.
quietly() {
  local name=$1
  shift
  if ! "$@" >"$logs/$name.log" 2>&1; then
    tail -n 40 "$logs/$name.log" >&2
    echo "demo: $name failed; full output: $logs/$name.log" >&2
    return 1
  fi
}

podman_ok=false
if command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1; then
  podman_ok=true
fi

inventory="$here/inventory/demo.aws_ec2.yml"
if $podman_ok; then
  echo "== Host image and agent package (built once, then reused)"
  quietly image bash "$root/tests/image/build.sh"
  quietly standin bash "$root/tests/cwagent_standin/build.sh" "$root/.cache/standin"
  package="$root/.cache/standin/amazon-cloudwatch-agent.deb"
  # The hosts are reached through the test harness's nsenter connection: one podman call a task
  # instead of two to four, a second or more saved per task (tests/harness/connection_plugins).
  export ANSIBLE_CONNECTION_PLUGINS="$root/tests/harness/connection_plugins"
  export GDPR_DEMO_CONNECTION=podman_nsenter
  # wait: a set-up still running (site.yml failed early) ends before its containers are removed.
  trap 'wait; quietly teardown ansible-playbook -i localhost, teardown.yml || echo "demo: removing the containers failed" >&2' EXIT
  echo "== Fleet: 3 opted-in EC2 instances in eu-west-1 and eu-central-1 (podman systemd hosts with"
  echo "   apache/nginx), 1 instance that did not opt in"
  # localhost only: the configured inventory (every region's instances) is not this play's business.
  # The instances and containers first (site.yml's inventory reads the instances); what runs inside
  # the containers (about 20 s) beside site.yml's AWS plays, which do not touch the hosts: the Linux
  # play waits for it (callback_plugins/gdpr_demo_wait.py) and starts once its exit status is written.
  quietly fleet ansible-playbook -i localhost, fleet.yml --tags demo_aws
  setup_status="$logs/setup.status"
  (
    rc=0
    quietly setup ansible-playbook -i localhost, fleet.yml --tags demo_setup || rc=$?
    echo "$rc" >"$setup_status.tmp" && mv "$setup_status.tmp" "$setup_status"
  ) &
  setup_pid=$!
  site_args=(-e "@$here/demo_vars.yml" -e "cloudwatch_agent_linux_package_file=$package")
  echo "== site.yml over the aws_ec2 inventory"
  # --flush-cache: the fleet was just made, so the cached inventory (if any) is stale.
  first_rc=0
  ANSIBLE_CALLBACK_PLUGINS="$here/callback_plugins" ANSIBLE_CALLBACKS_ENABLED=gdpr_demo_wait \
    GDPR_DEMO_WAIT_FOR="$setup_status" GDPR_DEMO_WAIT_BEFORE="CloudWatch agent on Linux web hosts" \
    python "$here/site_run.py" --dir "$logs/site-first" --inventory "$inventory" -- --flush-cache \
    "${site_args[@]}" || first_rc=$?
  setup_rc=0
  wait "$setup_pid" || setup_rc=$?
  [[ "$(cat "$setup_status" 2>/dev/null)" == 0 ]] || { echo "demo: setting the hosts up failed" >&2; exit 1; }
  ((first_rc == 0 && setup_rc == 0)) || exit "$((first_rc ? first_rc : 1))"
  # The pipe check waits on the agents' 5 s flush, the second run on AWS and the hosts: side by side.
  # The check's events change no setting, and the second run must change nothing, so neither
  # disturbs the other; the check prints as events arrive, the second run one line at its end.
  echo "== The pipe, end to end; and site.yml again, which must change nothing"
  python "$here/pipe.py" &
  pipe_pid=$!
  again_rc=0
  python "$here/site_run.py" --again --dir "$logs/site-again" --inventory "$inventory" -- "${site_args[@]}" \
    || again_rc=$?
  pipe_rc=0
  wait "$pipe_pid" || pipe_rc=$?
  ((pipe_rc == 0)) || echo "demo: an event did not arrive in its log group (above)" >&2
  ((again_rc == 0)) || echo "demo: site.yml again failed or changed something (above)" >&2
  ((pipe_rc == 0 && again_rc == 0))
else
  echo "podman is not usable here: running the controller plays only (GuardDuty, log groups, IAM)."
  quietly fleet ansible-playbook -i localhost, fleet.yml -e demo_with_containers=false
  python "$here/site_run.py" --dir "$logs/site-first" --inventory "$inventory" -- --flush-cache \
    -e "@$here/demo_vars.yml" --skip-tags agents
fi
echo "== Demo done in $((SECONDS - started)) s (full output of every step: $logs)"
