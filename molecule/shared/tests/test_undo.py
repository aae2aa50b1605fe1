"""The undo playbook, after the scenario's other tests (pytest runs this file last): it removes what site.yml added
and leaves the rest as it was; a second undo changes nothing; site.yml then builds the cluster again."""

import json
import os
import re
import subprocess

import pytest

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
INVENTORY = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
STORE_KEYS = ("cluster-store", "cluster-advertise", "cluster-store-opts")
# The containers the collection runs (workload, stack probe, keystore).
OURS = {"web", "probe", "consul", "etcd", "mhnet-probe"}


def playbook(name, *args):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    result = subprocess.run(["ansible-playbook", "-i", INVENTORY, os.path.join(PROJECT, name), *args], capture_output=True,
                            text=True, timeout=900, check=False, env=env)
    return result.returncode, result.stdout + result.stderr


def changed_counts(output):
    return dict((host, int(count)) for host, count in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.MULTILINE))


def daemon_json(host):
    text = host.run("cat /etc/docker/daemon.json").stdout
    return json.loads(text) if text.strip() else {}


def state_of(host, docker):
    return dict(containers=set(docker(host, "ps", "-a", "--format", "{{.Names}}").split()),
                networks=set(docker(host, "network", "ls", "--format", "{{.Name}}").split()),
                volumes=set(docker(host, "volume", "ls", "--format", "{{.Name}}").split()),
                swarm=docker(host, "info", "--format", "{{.Swarm.LocalNodeState}}").strip())


@pytest.fixture(scope="module")
def undone(lab_hosts, docker):
    """Every host's daemon.json and Docker objects before undo, and the output of the first and second undo."""
    before = dict((name, dict(state_of(host, docker), config=daemon_json(host))) for name, host in lab_hosts.items())
    first = playbook("undo.yml")
    second = playbook("undo.yml")
    return before, first, second


def test_undo_removes_what_site_added_and_keeps_the_users_daemon_json_keys(undone, lab_hosts, lab_groups, docker):
    before, (rc, output), dummy = undone
    assert rc == 0, output[-3000:]
    cluster = set(lab_groups.get("keystore", []) + lab_groups["docker_hosts"])
    for name, host in lab_hosts.items():
        after = state_of(host, docker)
        if name not in cluster:  # a lab host outside the cluster (the swarm scenario's mhs-foreign) is left as it was
            assert dict(after, config=daemon_json(host)) == before[name], name
            continue
        assert after["swarm"] == "inactive", name
        assert not after["containers"] & OURS, (name, after["containers"])
        assert not after["networks"] & {"my-net", "mhnet_app", "docker_gwbridge", "ingress"}, (name, after["networks"])
        assert not after["volumes"] & {"consul-data", "etcd-data"}, (name, after["volumes"])
        # Everything else stays: other containers, networks and volumes, and every daemon.json key but the store's.
        theirs = set(container for container in before[name]["containers"]
                     if container not in OURS and not container.startswith("mhnet_"))  # mhnet_*: the stack's tasks
        assert theirs <= after["containers"], name
        config = daemon_json(host)
        assert config == dict((key, value) for key, value in before[name]["config"].items() if key not in STORE_KEYS), name
    for name in lab_groups["docker_hosts"]:
        if "mhnet.prepared=kept" in json.dumps(before[name]["config"]):
            assert daemon_json(lab_hosts[name])["labels"] == ["mhnet.prepared=kept"], "the user's key survives undo"


def test_the_daemon_json_backups_are_no_wider_than_the_file(undone, lab_hosts, lab_groups):
    for name in lab_groups["docker_hosts"]:
        host = lab_hosts[name]
        if host.run("test -e /etc/docker/daemon.json").rc != 0:
            continue
        mode = host.file("/etc/docker/daemon.json").mode
        backups = host.check_output("ls /etc/docker").split()
        backups = [entry for entry in backups if entry.startswith("daemon.json.") and entry.endswith("~")]
        assert 1 <= len(backups) <= 3, (name, backups)
        for entry in backups:
            assert host.file("/etc/docker/" + entry).mode & ~mode == 0, (name, entry)


def test_a_second_undo_changes_nothing(undone):
    dummy, dummy2, (rc, output) = undone
    assert rc == 0, output[-3000:]
    assert changed_counts(output) and set(changed_counts(output).values()) == {0}, output[-3000:]


def test_site_builds_the_cluster_again_after_undo(undone):
    rc, output = playbook("site.yml")
    assert rc == 0, output[-3000:]
    assert "Welcome to nginx!" in output
