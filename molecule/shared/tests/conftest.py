"""Testinfra fixtures: the lab's hosts as molecule's inventory describes them."""

import os

import pytest
import testinfra.utils.ansible_runner
import yaml

INVENTORY = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
with open(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "vars", "lab.yml")) as _lab:
    # The lab's inventory group is its name with dashes as underscores (roles/lab/templates/inventory.yml.j2).
    LAB_GROUP = yaml.safe_load(_lab)["lab_name"].replace("-", "_")


@pytest.fixture(scope="module")
def runner():
    return testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)


@pytest.fixture(scope="module")
def lab_hosts(runner):
    """Every lab host as a testinfra Host, by inventory name."""
    return {name: runner.get_host(name) for name in runner.get_hosts(LAB_GROUP)}


@pytest.fixture(scope="module")
def lab_vars(runner):
    """Inventory variables of every lab host, by inventory name."""
    return {name: runner.get_variables(name) for name in runner.get_hosts(LAB_GROUP)}


@pytest.fixture(scope="module")
def lab_groups(runner):
    """Inventory groups of the lab: {group: [host names]}."""
    inventory = runner.inventory
    return {group: sorted(data.get("hosts", [])) for group, data in inventory.items() if group != "_meta"}


@pytest.fixture()
def host_vars(host):
    return host.ansible.get_variables()
