"""The shape the architecture promises: roles read only the plan, and mode logic lives in playbooks/site.yml."""

import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.listdir(os.path.join(REPO, "roles")))


def role_files(role):
    for parent, dummy, names in os.walk(os.path.join(REPO, "roles", role)):
        for name in names:
            if name.endswith((".yml", ".yaml", ".j2")):
                path = os.path.join(parent, name)
                with open(path) as handle:
                    yield os.path.relpath(path, REPO), handle.read()


def test_every_product_role_is_checked():
    assert {"preflight", "keystore", "engine", "swarm", "overlay", "stack", "workload", "probe", "images"} <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_no_role_reads_hostvars(role):
    # The cluster_plan action plugin is the one reader of other hosts' variables.
    readers = [path for path, text in role_files(role) if re.search(r"\bhostvars\b", text)]
    assert readers == []


@pytest.mark.parametrize("role", ROLES)
def test_no_role_chooses_by_mode(role):
    choosers = [path for path, text in role_files(role) if re.search(r"mhnet_cluster\.mode\b|mhnet_cluster_mode\b", text)]
    allowed = [path for path in choosers if path.startswith(os.path.join("roles", "preflight", ""))]
    assert choosers == allowed, "only playbooks/site.yml (and preflight, which reads the setting) may choose by mode"


def test_site_chooses_the_mode_specific_phases():
    with open(os.path.join(REPO, "playbooks", "site.yml")) as handle:
        site = handle.read()
    for role in ("keystore", "engine", "swarm", "stack"):
        assert re.search(r"name: mhnet\.cluster\.%s\n(?:.*\n){0,3}?\s+when: mhnet_cluster\.mode == '(kv|swarm)'" % role, site), role
