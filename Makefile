# One entry point for humans and CI. `make help` lists the targets.
SHELL := /bin/bash
# The newest Python 3.12+ found (tools/controller_python), else python3: `make venv PYTHON=...` to choose.
PYTHON ?= $(shell $(CURDIR)/tools/controller_python)
VENV := .venv
BIN := $(VENV)/bin
COLLECTION_LINK := .cache/collections/ansible_collections/mhnet/cluster
SANITY_ROOT := .cache/sanity/ansible_collections/mhnet/cluster
BUILD_DIR := .cache/build
LAB_INVENTORY := $(CURDIR)/inventory/lab.yml
PLAYBOOK := $(BIN)/ansible-playbook
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help venv demo lab-up lab-down site undo day2 build test lint sanity unit molecule reliability bench clean changelog compat compat-oldest role-docs consumer ee

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements-dev.txt
	$(PYTHON) -m venv --clear $(VENV)
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' || echo "make venv: $(PYTHON) is older than \
	3.12, so ansible-core 2.19 (end of life 2026-11-30); install Python 3.12+ (Debian 13's python3, pyenv) for 2.21"
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed  ## Install the pinned Python tools into .venv and link this checkout as mhnet.cluster
	@mkdir -p $(dir $(COLLECTION_LINK)) && ln -sfn ../../../.. $(COLLECTION_LINK)

demo: lab-up  ## Bring up the lab and run site.yml against it; ends with the page fetched across hosts
	$(PLAYBOOK) -i $(LAB_INVENTORY) site.yml

lab-up: venv  ## Build the lab images (cached) and start the lab hosts; writes inventory/lab.yml
	$(PLAYBOOK) lab/lab_up.yml -e lab_inventory_path=$(LAB_INVENTORY)

lab-down: venv  ## Remove the lab hosts, their volumes and networks
	$(PLAYBOOK) lab/lab_down.yml -e lab_inventory_path=$(LAB_INVENTORY)

site: venv  ## Run site.yml against the lab inventory
	$(PLAYBOOK) -i $(LAB_INVENTORY) site.yml

undo: venv  ## Run undo.yml against the lab inventory: remove what site.yml added
	$(PLAYBOOK) -i $(LAB_INVENTORY) undo.yml

build: venv  ## Build the collection tarball (the product only: galaxy.yml lists what ships) into .cache/build
	$(BIN)/ansible-galaxy collection build --force --output-path $(BUILD_DIR)

test: lint sanity unit compat-oldest ee consumer molecule  ## Everything CI runs: lint, sanity, unit tests (also on ansible-core 2.17), the EE build context, the consumer fixture, molecule scenarios

lint: venv  ## ansible-lint, production profile, no skip list; the changelog's fragments (tools/changelog.py --check)
	$(BIN)/ansible-lint --profile production
	$(BIN)/python tools/changelog.py --check

changelog: venv  ## Write CHANGELOG.md from changelogs/ (antsibull-changelog): run it after adding a fragment
	$(BIN)/python tools/changelog.py

sanity: venv  ## ansible-test sanity on a copy placed under ansible_collections/mhnet/cluster
	@# ansible-test downloads a pip bootstrap script from a host outside the package registries: bootstrap offline,
	@# under the name this ansible-test looks for (tests/sanity/pip_bootstrap.py asks it).
	$(BIN)/python tests/sanity/pip_bootstrap.py
	rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t $(SANITY_ROOT)
	cd $(SANITY_ROOT) && git init -q && git add -A && \
	  PATH=$(CURDIR)/$(BIN):$$PATH $(CURDIR)/$(BIN)/ansible-test sanity --python $$($(CURDIR)/$(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') --color no

unit: venv  ## pytest unit tests (no Docker): the collection's and the lab's
	$(BIN)/pytest tests/unit lab/tests

compat: venv  ## Sanity and unit tests on each tested ansible-core (2.17, 2.20, 2.21), antsibull-nox's checks (noxfile.py)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/nox

compat-oldest: venv  ## Sanity and unit tests on the oldest core only (2.17), extra-checks (make sanity/unit run the newest)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/nox -s sanity-2.17 unit-2.17 extra-checks

role-docs: venv  ## Write docs/roles.md from every role's meta/argument_specs.yml (a unit test checks it is current)
	$(BIN)/python tools/generate_role_docs.py

consumer: build  ## tests/consumer on its own lab: the built tarball on the newest core and the oldest, and via ansible-runner
	tests/consumer/run.sh

ee: build  ## ansible-builder create on meta/execution-environment.yml (offline), its context checked against its sources
	$(BIN)/python tools/ee_check.py

molecule: venv  ## The molecule scenarios on the lab (real engines)
	for scenario in default checks etcd generations swarm secure day2 reliability; do \
	  PATH=$(CURDIR)/$(BIN):$$PATH $(CURDIR)/$(BIN)/molecule test -s $$scenario || exit 1; \
	done

RELIABILITY_SCENARIOS := checks reliability swarm

DAY2_SCENARIOS := day2 rolling backup backup_kv

day2: venv  ## Issue 10 on the lab: grow/shrink/repair (day2), rolling restart, swarm and Consul backups (~45 min)
	for scenario in $(DAY2_SCENARIOS); do \
	  PATH=$(CURDIR)/$(BIN):$$PATH $(CURDIR)/$(BIN)/molecule test -s $$scenario || exit 1; \
	done

reliability: venv  ## Issue 9's table: refusals (checks), faults (reliability), a manager lost (swarm); one table of every case
	@# Each scenario's verify step writes its rows to .cache/reliability/<scenario>.json; every scenario runs even
	@# after one fails, then the table of all rows is printed and the target fails if any case or scenario did.
	@rm -rf .cache/reliability && mkdir -p .cache/reliability
	@status=0; for scenario in $(RELIABILITY_SCENARIOS); do \
	  start=$$(date +%s); \
	  PATH=$(CURDIR)/$(BIN):$$PATH $(CURDIR)/$(BIN)/molecule test -s $$scenario || status=1; \
	  echo "molecule $$scenario: $$(( $$(date +%s) - start )) s" >> .cache/reliability/timings.txt; \
	done; \
	cat .cache/reliability/timings.txt; \
	$(BIN)/python molecule/shared/tests/reliability_table.py $$(ls .cache/reliability/*.json 2>/dev/null) || status=1; \
	exit $$status

bench: venv  ## Benchmark (issue 8) on its own lab hosts: P1-P4 and the peer playbook; BENCH_ARGS=--quick for 1 round
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean: lab-down  ## Remove the lab and local caches (keeps built images)
	rm -rf .cache $(VENV)
