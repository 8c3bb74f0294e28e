# gdpr.aws_monitoring: `make demo` and `make test` do all set-up on a fresh Debian 12 machine (root).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
BIN         := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export CONTAINERS_CONF ?= $(CURDIR)/tests/image/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Only the venv's collections (the bundled ones plus this checkout's link): a stale copy of this
# collection in ~/.ansible/collections must never shadow the checkout under test.
SITE_PACKAGES = $(shell test -x $(PY) && $(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export ANSIBLE_COLLECTIONS_PATH = $(SITE_PACKAGES)
export ANSIBLE_NOCOLOR := 1
export ANSIBLE_FORCE_COLOR := 0
export PY_COLORS := 0
export NO_COLOR := 1
export MOLECULE_NO_LOG := false

APT_PACKAGES := python3-venv podman runc uidmap slirp4netns fuse-overlayfs debootstrap git make rsync shellcheck chromium
# Both ends of the supported ansible-core range (tests/compat/<end>.txt), each in its own venv.
COMPAT_ENDS := low high
# Scenarios CI runs. molecule/windows_ec2 needs a real AWS account and Windows: never here.
MOLECULE_SCENARIOS ?= $(sort $(filter-out windows_ec2,$(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))))
# Scenarios whose driver manages no instance (`managed: false`: the hosts are inventory entries the
# controller works for) need neither the image nor a container; the others start containers.
MOLECULE_CONTROLLER := $(sort $(foreach s,$(MOLECULE_SCENARIOS),$(if $(shell grep -qE '^ +managed: false' molecule/$(s)/molecule.yml && echo y),$(s))))
MOLECULE_HOSTS := $(filter-out $(MOLECULE_CONTROLLER),$(MOLECULE_SCENARIOS))
# Integration tests that start no container (the controller plays on the embedded AWS, chromium on
# a report): `make test` runs them beside the containers. Any other file is run with the containers.
INTEGRATION_CONTROLLER := $(wildcard $(addprefix tests/integration/,test_least_privilege.py test_faults.py test_faults_records.py test_evidence_browser.py))

.PHONY: help
help: ## list targets
	@grep -E '^[a-z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

.cache:
	mkdir -p .cache

.cache/apt.stamp: Makefile | .cache
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	touch $@

$(VENV)/.stamp: requirements-test.txt requirements-constraints.txt .cache/apt.stamp
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-test.txt -c requirements-constraints.txt
	touch $@

.PHONY: bootstrap
bootstrap: $(VENV)/.stamp collection ## apt packages, the venv, and this checkout installed as gdpr.aws_monitoring

.PHONY: collection
collection: $(VENV)/.stamp ## link this checkout into the venv's ansible_collections (and its module bytecode cache)
	@site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	mkdir -p $$site/ansible_collections/gdpr; \
	ln -sfn $(CURDIR) $$site/ansible_collections/gdpr/aws_monitoring; \
	ln -sfn $(CURDIR)/tests/harness/zipcache.py $$site/_gdpr_zipcache.py; \
	echo "import _gdpr_zipcache; _gdpr_zipcache.install('$(CURDIR)/.cache/pyc')" > $$site/_gdpr_zipcache.pth

.PHONY: image
image: .cache/apt.stamp ## build (once) the Debian 12 systemd test image
	bash tests/image/build.sh

.PHONY: lint
lint: bootstrap ## ansible-lint (production profile), ruff, syntax checks
	$(BIN)/ruff check plugins tests
	$(BIN)/ruff format --check plugins tests
	$(BIN)/ansible-lint --profile production
	$(BIN)/ansible-playbook --syntax-check -i localhost, site.yml

.PHONY: docs
docs: bootstrap ## README variable tables from each role's meta/argument_specs.yml (tools/readme_vars.py)
	$(PY) tools/readme_vars.py

.PHONY: sanity
sanity: bootstrap ## ansible-test sanity on the plugins, offline
	bash tests/sanity/run.sh

.PHONY: unit
unit: bootstrap ## pytest unit tests (modules, filters, harness)
	$(BIN)/pytest -q tests/unit

# `make unit` in two halves of about the same CPU, for `make test`'s queue: the role tests (each runs
# playbooks) and everything else.
.PHONY: unit-roles unit-roles-1 unit-roles-2 unit-other
unit-roles: bootstrap
	$(BIN)/pytest -q tests/unit/roles

# The role tests in two halves of about the same time: the records, response and evidence roles'
# files, and the others (booleans, controller guards, flow logs, the agents' rendering).
UNIT_ROLES_2 := $(addprefix tests/unit/roles/,test_cloudtrail_role.py test_guardduty_response.py \
	test_config_recorder_role.py test_log_archive.py test_guardduty_organization_role.py \
	test_evidence_report.py test_demo_credentials.py)
unit-roles-1: bootstrap
	$(BIN)/pytest -q tests/unit/roles $(addprefix --ignore=,$(UNIT_ROLES_2))

unit-roles-2: bootstrap
	$(BIN)/pytest -q $(UNIT_ROLES_2)

unit-other: bootstrap
	$(BIN)/pytest -q tests/unit --ignore=tests/unit/roles

.cache/compat/%/.stamp: tests/compat/%.txt tests/compat/requirements.txt tests/compat/build.sh requirements-constraints.txt | .cache
	bash tests/compat/build.sh $*

.PHONY: compat
compat: bootstrap ## the collection on the oldest and newest supported ansible-core (venvs cached in .cache/compat)
	@# both venvs at once when they need building (pip mostly waits on the network and the disk)
	@$(MAKE) --no-print-directory -j$(words $(COMPAT_ENDS)) $(foreach end,$(COMPAT_ENDS),.cache/compat/$(end)/.stamp)
	@pids=""; for end in $(COMPAT_ENDS); do bash tests/compat/run.sh $$end & pids="$$pids $$!"; done; \
	rc=0; for pid in $$pids; do wait $$pid || rc=1; done; exit $$rc

# Each scenario with its own embedded AWS (and its own moto log, as two lanes may run at once).
# Molecule probes for a `default` scenario (only used for shared state, which no scenario here
# uses) and logs its absence as "CRITICAL 'molecule/default/molecule.yml' glob failed. Exiting."
# before going on: a false alarm in CI's log, dropped (its INFO line saying so stays).
run_molecule = for s in $(1); do \
	  echo "=== molecule test -s $$s"; \
	  $(PY) tests/harness/moto_server.py run --log $(CURDIR)/.cache/moto-$$s.log -- $(BIN)/molecule test -s $$s 2>&1 \
	    | sed -u "/^CRITICAL 'molecule\/default\/molecule.yml' glob failed/d" || exit 1; \
	done

.PHONY: molecule
molecule: molecule-controller molecule-hosts ## every Molecule scenario, each with its own embedded AWS

.PHONY: molecule-controller
molecule-controller: bootstrap ## the Molecule scenarios that start no container (no image needed)
	@$(call run_molecule,$(MOLECULE_CONTROLLER))

.PHONY: molecule-hosts
molecule-hosts: bootstrap image ## the Molecule scenarios on podman hosts of the test image
	@$(call run_molecule,$(MOLECULE_HOSTS))

.PHONY: integration
integration: integration-controller integration-hosts ## end-to-end: site.yml over aws_ec2 via ansible-runner, policies, faults

.PHONY: integration-controller
integration-controller: bootstrap ## the integration tests that start no container
	$(BIN)/pytest -q $(INTEGRATION_CONTROLLER)

# integration-controller in two parts for `make test`'s queue: the least-privilege runs, the rest.
.PHONY: integration-least-privilege integration-faults
integration-least-privilege: bootstrap
	$(BIN)/pytest -q $(filter %/test_least_privilege.py,$(INTEGRATION_CONTROLLER))

integration-faults: bootstrap
	$(BIN)/pytest -q $(filter-out %/test_least_privilege.py,$(INTEGRATION_CONTROLLER))

.PHONY: integration-hosts
integration-hosts: bootstrap image ## the integration tests on podman hosts
	$(BIN)/pytest -q tests/integration $(addprefix --ignore=,$(INTEGRATION_CONTROLLER))

.PHONY: bench
bench: bootstrap image ## the figures the issues name (ratios)
	@for b in tests/benchmarks/bench_*.py; do $(PY) $$b; done

# `make test` runs the stages from one queue, TEST_JOBS at a time (.ci/lanes prefixes each line
# with its stage): CI has 2 cores, and most stages keep one busy at most, while the container
# stages spend much of their time waiting on hosts and on the stand-in agent's flushes. The queue is
# in order of the stages' measured times in CI, the longest first (the last CI run prints them), so
# the short ones fill in at the end. The two container stages may run at the same time: their
# containers have distinct names (cwagent-linux-*, demo-web-*), distinct loopback ports
# (18080-18089, 18280-18289) and each its own embedded AWS, so they share the host network without
# meeting. `make unit` (three parts) and `make integration-controller` (two) are split in the queue.
TEST_QUEUE ?= integration-hosts integration-least-privilege molecule-hosts unit-roles-1 unit-roles-2 \
	compat integration-faults sanity molecule-controller unit-other lint
TEST_JOBS ?= 4

.PHONY: test
test: bootstrap image ## everything CI checks (lint sanity unit compat molecule integration)
	@bash .ci/lanes -j $(TEST_JOBS) $(TEST_QUEUE)

.PHONY: test-serial
test-serial: lint sanity unit compat molecule integration ## everything CI checks, one stage after the other

.PHONY: demo
demo: bootstrap ## the main job on an embedded AWS, no account needed
	$(PY) tests/harness/moto_server.py run --log $(CURDIR)/.cache/moto-demo.log -- bash demo/run.sh

.PHONY: clean
clean: ## remove the venv and caches (the test image stays)
	rm -rf $(VENV) .cache tests/output
