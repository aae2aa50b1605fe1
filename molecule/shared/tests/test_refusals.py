"""On blank hosts: check mode changes nothing and shows the daemon.json diff; bad input stops in preflight,
naming the hosts, before any host changes."""

import pytest


def snapshot(hosts):
    """What the collection could change on each host: daemon.json, containers, networks, volumes, hostname."""
    state = {}
    for name, host in sorted(hosts.items()):
        state[name] = [host.run("cat /etc/docker/daemon.json 2>/dev/null").stdout,
                       host.check_output("hostname")]
        for what in ("ps -a --format {{.Names}}", "network ls --format {{.Name}}", "volume ls --format {{.Name}}"):
            state[name].append(sorted(host.check_output("docker " + what).split()))
    return state


@pytest.fixture()
def unchanged(lab_hosts):
    """Fails the test if any host changed while it ran."""
    before = snapshot(lab_hosts)
    yield
    assert snapshot(lab_hosts) == before


def test_check_mode_changes_nothing_and_shows_the_daemon_json_diff(run_site, unchanged):
    rc, output = run_site("--check", "--diff")
    assert rc == 0, output[-3000:]
    assert '+  "cluster-store": "consul://' in output, output[-3000:]
    assert '+  "cluster-advertise": "' in output
    assert '"mhnet.prepared=kept"' in output, "the diff shows the user's key kept"


def test_a_kernel_minimum_above_the_running_kernel_stops_every_host_in_preflight(run_site, unchanged, lab_groups):
    rc, output = run_site("-e", "mhnet_kernel_min=99.0")
    assert rc != 0
    assert "preflight found 3 problem(s); nothing was changed" in output, output[-3000:]
    for name in lab_groups["keystore"] + lab_groups["docker_hosts"]:
        assert "%s: kernel " % name in output and "is older than 99.0" in output


def test_hosts_sharing_a_hostname_are_named_in_preflight(run_site, unchanged, lab_hosts):
    demo0, demo1 = lab_hosts["mhs-demo0"], lab_hosts["mhs-demo1"]
    try:
        for host in (demo0, demo1):
            host.check_output("hostname node")
        rc, output = run_site()
    finally:
        demo0.check_output("hostname mhs-demo0")
        demo1.check_output("hostname mhs-demo1")
    assert rc != 0
    assert "hostname 'node' is used by mhs-demo0 and mhs-demo1" in output, output[-3000:]


def test_key_value_mode_on_a_26_engine_is_refused_in_preflight(run_site, unchanged):
    rc, output = run_site("-e", "mhnet_docker_group=modern_hosts")
    assert rc != 0
    assert "mhs-modern: Docker 26.1.5" in output and "has no cluster-store" in output, output[-3000:]
    assert "set mhnet_cluster_mode: swarm" in output


def test_consul_on_an_engine_built_without_it_is_refused_in_preflight(run_site, unchanged):
    rc, output = run_site("-e", "mhnet_docker_group=bookworm_hosts")
    assert rc != 0
    assert "mhs-bookworm: Docker 20.10.24" in output, output[-3000:]
    assert "built without the consul key-value backend (its dockerd has: etcd, zookeeper)" in output


def test_zookeeper_as_cluster_store_is_refused_in_preflight(run_site, unchanged):
    rc, output = run_site("-e", "mhnet_keystore_backend=zookeeper")
    assert rc != 0
    assert "ZooKeeper cannot hold overlay networks" in output, output[-3000:]
    assert "moby/libnetwork/issues/2006" in output and "set mhnet_keystore_backend: consul or etcd" in output


def test_a_swarm_role_in_key_value_mode_is_refused_in_preflight(run_site, unchanged):
    rc, output = run_site("-e", "mhnet_swarm_role=manager")
    assert rc != 0
    assert "mhs-demo0: mhnet_swarm_role is set but the cluster runs in key-value mode" in output, output[-3000:]
