"""Testinfra fixtures: the lab's hosts as molecule's inventory describes them."""

import os

import pytest
import testinfra.utils.ansible_runner

INVENTORY = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
LAB_GROUP = "mhnet_molecule"


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
