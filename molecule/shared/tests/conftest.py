"""Testinfra fixtures: the lab's hosts as molecule's inventory describes them."""

import os

import pytest
import testinfra.utils.ansible_runner

INVENTORY = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
LAB_GROUP = "mhnet_molecule"


@pytest.fixture(scope="module")
def lab_hosts():
    """Every lab host as a testinfra Host, with its inventory variables."""
    runner = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
    return {name: runner.get_host(name) for name in runner.get_hosts(LAB_GROUP)}


@pytest.fixture()
def host_vars(host):
    return host.ansible.get_variables()
