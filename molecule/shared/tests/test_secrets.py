"""Swarm mode: the join tokens never appear in a -vvv run's output, and the swarm listens on the cluster address,
not on every interface."""

import pytest


@pytest.fixture(scope="module")
def manager(lab_hosts, lab_groups):
    """The scenario's planned manager (the swarm scenario makes mhs-demo1 the manager)."""
    for name in lab_groups["docker_hosts"]:
        if lab_hosts[name].run("docker node ls -q").rc == 0:
            return lab_hosts[name]
    raise AssertionError("no engine of the lab manages the swarm")


def test_join_tokens_never_appear_in_a_verbose_run(manager, run_site):
    tokens = [manager.check_output("docker swarm join-token -q %s" % role) for role in ("worker", "manager")]
    assert all(token.startswith("SWMTKN-") for token in tokens)
    rc, output = run_site("-vvv")
    assert rc == 0, output[-3000:]
    assert "Join the other hosts to this swarm" in output  # the run did reach the joins
    for token in tokens:
        assert token not in output
        assert token.rsplit("-", 1)[-1] not in output  # not even the token's secret part


def test_the_swarm_listens_on_the_cluster_address_only(lab_hosts, lab_groups, lab_vars):
    for name in lab_groups["docker_hosts"]:
        address = lab_vars[name]["mhnet_cluster_address"]
        listening = lab_hosts[name].check_output("ss -Hltnu")
        for port in ("2377", "7946"):  # 2377 on managers only, 7946 on every node
            sockets = [line.split()[4] for line in listening.splitlines() if line.split()[4].endswith(":" + port)]
            assert all(local == "%s:%s" % (address, port) for local in sockets), (name, port, sockets)
            assert sockets or port == "2377", (name, port)
