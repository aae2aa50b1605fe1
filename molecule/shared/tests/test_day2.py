"""Day 2 in swarm mode, in order: grow (a fourth engine joins and only it changes), shrink (it leaves cleanly with
mhnet_state: absent), removals refused before any change, and the first manager rebuilt blank (repair: one swarm,
the same cluster ID, three managers, no stale node). Each step ends with the tutorial's cross-host fetch."""

import re

import pytest
import yaml

ALL = ("-e", "mhnet_docker_group=docker_hosts")


def changed_counts(output):
    return dict((host, int(count)) for host, count in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.MULTILINE))


def nodes(host, docker):
    """{hostname: (status, availability, manager status)} as a manager lists the swarm's nodes."""
    rows = docker(host, "node", "ls", "--format", "{{.Hostname}}|{{.Status}}|{{.Availability}}|{{.ManagerStatus}}")
    listed = {}
    for row in rows.splitlines():
        name, status, availability, manager = row.split("|")
        listed.setdefault(name, []).append((status, availability, manager))
    return listed


def cluster_id(host, docker):
    return docker(host, "info", "--format", "{{.Swarm.Cluster.ID}}").strip()


@pytest.fixture(scope="module")
def engines(lab_hosts):
    return dict((name, lab_hosts[name]) for name in ("mhs-demo0", "mhs-demo1", "mhs-demo2", "mhs-demo3"))


@pytest.fixture()
def states(tmp_path):
    """states(**{host: state}): an extra vars file giving those hosts their mhnet_state (the others: present)."""
    def write(**wanted):
        path = tmp_path / "states.yml"
        path.write_text(yaml.safe_dump(dict(test_states=wanted,
                                            mhnet_state="{{ test_states[inventory_hostname] | default('present') }}")))
        return "@%s" % path
    return write


def test_a_fourth_engine_joins_and_only_it_changes(engines, run_site, docker, fetch_page):
    before = cluster_id(engines["mhs-demo1"], docker)
    rc, output = run_site(*ALL)
    assert rc == 0, output[-3000:]
    changed = changed_counts(output)
    assert changed["mhs-demo3"] > 0 and all(changed[name] == 0 for name in ("mhs-demo0", "mhs-demo1", "mhs-demo2")), changed
    listed = nodes(engines["mhs-demo1"], docker)
    assert sorted(listed) == ["mhs-demo0", "mhs-demo1", "mhs-demo2", "mhs-demo3"]
    assert listed["mhs-demo3"] == [("Ready", "Active", "")]
    assert cluster_id(engines["mhs-demo1"], docker) == before
    assert "Welcome to nginx!" in fetch_page(engines["mhs-demo3"])


def test_removals_that_would_lose_web_or_the_raft_majority_are_refused_before_any_change(engines, run_site, states, docker):
    before = nodes(engines["mhs-demo1"], docker)
    rc, output = run_site(*ALL, "-e", states(**{"mhs-demo0": "absent"}))
    assert rc != 0
    assert "mhs-demo0 runs web (it is the first host of the engine group)" in output, output[-3000:]
    rc, output = run_site(*ALL, "-e", states(**{"mhs-demo2": "absent"}))
    assert rc != 0
    assert "2 swarm managers (mhs-demo0, mhs-demo1) cannot keep a Raft majority" in output, output[-3000:]
    assert nodes(engines["mhs-demo1"], docker) == before


def test_the_fourth_engine_leaves_cleanly_and_a_second_run_changes_nothing(engines, run_site, states, docker, fetch_page):
    extra = states(**{"mhs-demo3": "absent"})
    rc, output = run_site(*ALL, "-e", extra)
    assert rc == 0, output[-3000:]
    assert sorted(nodes(engines["mhs-demo1"], docker)) == ["mhs-demo0", "mhs-demo1", "mhs-demo2"]
    assert docker(engines["mhs-demo3"], "info", "--format", "{{.Swarm.LocalNodeState}}").strip() == "inactive"
    assert "Welcome to nginx!" in fetch_page(engines["mhs-demo2"])
    rc, output = run_site(*ALL, "-e", extra)
    assert rc == 0, output[-3000:]
    assert set(changed_counts(output).values()) == {0}, changed_counts(output)


def test_the_first_manager_rebuilt_blank_rejoins_the_same_swarm(engines, run_site, docker, fetch_page):
    before = cluster_id(engines["mhs-demo1"], docker)
    first = engines["mhs-demo0"]
    # Rebuilt blank: the engine's swarm state is gone (as on a reinstalled host), its old node stays listed.
    first.check_output("systemctl stop docker.socket docker.service && rm -rf /var/lib/docker/swarm && "
                       "systemctl start docker.service")
    assert docker(first, "info", "--format", "{{.Swarm.LocalNodeState}}").strip() == "inactive"
    rc, output = run_site("-e", "mhnet_docker_group=first_three")  # the fourth engine has left
    assert rc == 0, output[-3000:]
    listed = nodes(engines["mhs-demo1"], docker)
    assert sorted(listed) == ["mhs-demo0", "mhs-demo1", "mhs-demo2"], listed
    assert all(len(entries) == 1 and entries[0][0] == "Ready" and entries[0][2] for entries in listed.values()), listed
    assert cluster_id(first, docker) == before  # a manager again
    assert "Welcome to nginx!" in fetch_page(engines["mhs-demo1"])
