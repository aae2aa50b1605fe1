"""The tutorial's checks, as it shows them, on a converged key-value cluster."""

import json
import shlex
import time

import consul
import pytest


def sh(host, command):
    return host.check_output(command)


def fetch_across(host, busybox, attempts=10):
    """The page busybox gets from http://web; names reach other engines by gossip, so allow a few seconds."""
    for attempt in range(attempts):
        result = host.run("docker run --rm --network my-net %s wget -q -O- http://web" % shlex.quote(busybox))
        if result.rc == 0:
            return result.stdout
        time.sleep(2)
    raise AssertionError("no page from http://web after %d attempts: %s" % (attempts, result.stderr))


def docker(host, *args):
    return host.check_output("docker " + " ".join(shlex.quote(a) for a in args))


@pytest.fixture(scope="module")
def engines(lab_hosts, lab_groups):
    return [lab_hosts[name] for name in lab_groups["docker_hosts"]]


@pytest.fixture(scope="module")
def engine_addresses(lab_vars, lab_groups):
    return [lab_vars[name]["mhnet_cluster_address"] for name in lab_groups["docker_hosts"]]


@pytest.fixture(scope="module")
def keystore(lab_hosts, lab_groups):
    return lab_hosts[lab_groups["keystore"][0]]


@pytest.fixture(scope="module")
def keystore_address(lab_vars, lab_groups):
    return lab_vars[lab_groups["keystore"][0]]["mhnet_cluster_address"]


@pytest.fixture(scope="module")
def busybox(lab_vars):
    return next(iter(lab_vars.values()))["lab_images"]["busybox"]


def test_my_net_has_one_id_and_global_scope_on_every_engine(engines):
    seen = {engine.backend.hostname: docker(engine, "network", "ls", "--filter", "name=^my-net$",
                                            "--format", "{{.ID}} {{.Driver}} {{.Scope}}") for engine in engines}
    assert len(set(seen.values())) == 1, seen
    network_id, driver, scope = next(iter(seen.values())).split()
    assert (driver, scope) == ("overlay", "global")
    subnet = json.loads(docker(engines[0], "network", "inspect", "my-net"))[0]["IPAM"]["Config"][0]["Subnet"]
    assert subnet == "10.0.9.0/24"


def test_web_is_on_my_net_with_mtu_1450_and_on_docker_gwbridge(engines, busybox):
    web_host = engines[0]
    interfaces = docker(web_host, "run", "--rm", "--network", "container:web", busybox, "sh", "-c",
                        "ip -o -4 addr show eth0; ip -o -4 addr show eth1; cat /sys/class/net/eth0/mtu").splitlines()
    eth0, eth1, mtu = interfaces[0].split()[3], interfaces[1].split()[3], interfaces[2]
    assert eth0.startswith("10.0.9.") and eth0.endswith("/24")
    assert mtu == "1450"
    gwbridge = json.loads(docker(web_host, "network", "inspect", "docker_gwbridge"))[0]["IPAM"]["Config"][0]["Subnet"]
    prefix = gwbridge.split(".")[:2]
    assert eth1.split(".")[:2] == prefix, (eth1, gwbridge)


def test_busybox_on_another_engine_fetches_the_page_from_web(engines, busybox):
    probe_host = engines[-1]
    assert probe_host.check_output("hostname") != engines[0].check_output("hostname")
    page = fetch_across(probe_host, busybox)
    assert "Welcome to nginx!" in page


def test_consul_lists_every_engine_under_docker_nodes(keystore_address, engine_addresses):
    store = consul.Consul(host=keystore_address, port=8500)
    dummy, entries = store.kv.get("docker/nodes/", recurse=True)
    registered = {entry["Key"].split("/")[-1] for entry in entries or []}
    expected = {address + ":2376" for address in engine_addresses}
    assert expected <= registered, registered


def test_the_users_daemon_json_key_survives_and_the_engine_uses_it(engines):
    for engine in engines:
        config = json.loads(sh(engine, "cat /etc/docker/daemon.json"))
        assert config["labels"] == ["mhnet.prepared=kept"]
        assert config["cluster-store"].startswith("consul://")
        assert "mhnet.prepared=kept" in docker(engine, "info", "--format", "{{json .Labels}}")


def test_networks_survive_a_keystore_restart(keystore, keystore_address, engines, busybox):
    before = docker(engines[-1], "network", "ls", "--filter", "name=^my-net$", "--format", "{{.ID}}")
    docker(keystore, "restart", "consul")
    store = consul.Consul(host=keystore_address, port=8500)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if store.status.leader():
                break
        except Exception:  # noqa: BLE001 -- the server is still starting
            pass
        time.sleep(1)
    assert store.status.leader(), "Consul elected no leader within 60 s of its restart"
    assert docker(engines[-1], "network", "ls", "--filter", "name=^my-net$", "--format", "{{.ID}}") == before
    page = fetch_across(engines[-1], busybox)
    assert "Welcome to nginx!" in page
