#!/usr/bin/env bash
# The guardduty scenario of `make compat` (run by run.sh inside the embedded AWS, whose endpoint and
# dummy credentials are in the environment): --check must predict the changes, converge, converge
# again must change nothing. Usage: scenario.sh LOG
set -euo pipefail
log=$1
cd "$(dirname "$0")/../.."
play() { ansible-playbook -i localhost, "$@" tests/compat/guardduty.yml; }
play --check --diff >>"$log" 2>&1
play >>"$log" 2>&1
second=$(play 2>&1) || { echo "$second"; exit 1; }
echo "$second" >>"$log"
if ! echo "$second" | grep -Eq "localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0"; then
  echo "second converge changed something:"
  echo "$second" | tail -20
  exit 1
fi
