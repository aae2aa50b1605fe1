"""The shape the architecture promises: roles read only the plan, and mode logic lives in playbooks/site.yml."""

import os
import re

import pytest
import yaml

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


@pytest.mark.parametrize("group", ["docker", "keystore"])
def test_an_action_group_holds_exactly_the_modules_of_its_connection_fragment(group):
    with open(os.path.join(REPO, "meta", "runtime.yml")) as handle:
        members = yaml.safe_load(handle)["action_groups"][group]
    modules = os.path.join(REPO, "plugins", "modules")
    extending = []
    for name in sorted(os.listdir(modules)):
        with open(os.path.join(modules, name)) as handle:
            text = handle.read()
        if re.search(r"^  - mhnet\.cluster\.%s$" % group, text, re.MULTILINE):
            extending.append(name[:-len(".py")])
    assert sorted(members) == extending
