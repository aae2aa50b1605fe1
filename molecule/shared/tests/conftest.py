"""Testinfra fixtures: the lab's hosts as molecule's inventory describes them."""

import os
import shlex
import subprocess
import sys
import time

import pytest
import testinfra.utils.ansible_runner
import yaml

INVENTORY = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
SITE = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "site.yml")
with open(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "vars", "lab.yml")) as _lab:
    # The lab's inventory group is its name with dashes as underscores (lab/roles/lab/templates/inventory.yml.j2).
    LAB_GROUP = yaml.safe_load(_lab)["lab_name"].replace("-", "_")

# The reliability table (issue 9): the `reliability` fixture (a test's row) and the hooks that print the table at the
# end of the session and write it under .cache/reliability. The module sits beside this file (scenarios link it).
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from reliability_table import (  # noqa: E402,F401  # pylint: disable=unused-import
    note_run, pytest_configure, pytest_runtest_makereport, pytest_terminal_summary, reliability)


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


@pytest.fixture(scope="module")
def lab_snapshot(lab_hosts):
    """lab_snapshot() -> what the collection could change on each host: daemon.json, containers, networks, volumes,
    hostname; two equal snapshots mean nothing changed between them."""
    def snapshot():
        state = {}
        for name, host in sorted(lab_hosts.items()):
            state[name] = [host.run("cat /etc/docker/daemon.json 2>/dev/null").stdout, host.check_output("hostname")]
            for what in ("ps -a --format {{.Names}}", "network ls --format {{.Name}}", "volume ls --format {{.Name}}"):
                state[name].append(sorted(host.check_output("docker " + what).split()))
        return state
    return snapshot


@pytest.fixture()
def host_vars(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="session")
def docker():
    """docker(host, *args): the output of `docker ARGS...` run on host; fails the test when it fails."""
    def run(host, *args):
        return host.check_output("docker " + " ".join(shlex.quote(arg) for arg in args))
    return run


@pytest.fixture(scope="session")
def cluster_interface():
    """cluster_interface(host, address): the name of the host's interface that holds address, read from the host.

    The lab inventory records only mhnet_cluster_address (preflight finds the interface from it), so tests
    find the interface the same way.
    """
    def find(host, address):
        for line in host.check_output("ip -o -4 addr show").splitlines():
            fields = line.split()
            if len(fields) > 3 and fields[2] == "inet" and fields[3].split("/")[0] == address:
                return fields[1].split("@")[0]
        raise AssertionError("no interface of %s holds %s" % (host.backend.hostname, address))
    return find


@pytest.fixture(scope="module")
def busybox(lab_vars):
    """The lab's busybox image."""
    return next(iter(lab_vars.values()))["lab_images"]["busybox"]


@pytest.fixture(scope="module")
def fetch_page(busybox):
    """fetch_page(host, network="my-net"): what busybox on host gets from http://web on the network.

    Engines learn each other's containers by gossip, so a name may take a few seconds to resolve on another host.
    """
    def fetch(host, network="my-net", attempts=10):
        for attempt in range(attempts):
            result = host.run("docker run --rm --network %s %s wget -q -O- http://web" % (shlex.quote(network), shlex.quote(busybox)))
            if result.rc == 0:
                return result.stdout
            time.sleep(2)
        raise AssertionError("no page from http://web on %s after %d attempts: %s" % (network, attempts, result.stderr))
    return fetch


@pytest.fixture(scope="module")
def run_site():
    """run_site(*args) -> (exit code, output) of site.yml against the scenario's inventory, as a user runs it."""
    def run(*args):
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        result = subprocess.run(["ansible-playbook", "-i", INVENTORY, SITE, *args], capture_output=True, text=True,
                                timeout=900, check=False, env=env)
        note_run(args, result.returncode, result.stdout + result.stderr)
        return result.returncode, result.stdout + result.stderr
    return run
