"""The tutorial's checks, as it shows them, on a converged key-value cluster."""

import json
import time
import urllib.error
import urllib.request

import consul
import pytest

# Backend (inventory variable mhnet_keystore_backend, default consul) -> (client port, cluster-store scheme).
KEYSTORES = {"consul": (8500, "consul://"), "etcd": (2379, "etcd://")}


def sh(host, command):
    return host.check_output(command)


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
def backend(lab_vars):
    return next(iter(lab_vars.values())).get("mhnet_keystore_backend", "consul")


def registered_engines(backend, keystore, keystore_address):
    """What the store lists under docker/nodes/, asked with the store's own API or client."""
    if backend == "etcd":
        url = "http://%s:%d/v2/keys/docker/nodes" % (keystore_address, KEYSTORES[backend][0])
        node = json.loads(urllib.request.urlopen(url, timeout=10).read())["node"]
        return {child["key"].split("/")[-1] for child in node.get("nodes", [])}
    store = consul.Consul(host=keystore_address, port=8500)
    dummy, entries = store.kv.get("docker/nodes/", recurse=True)
    return {entry["Key"].split("/")[-1] for entry in entries or []}


def keystore_serves(backend, keystore_address):
    """Consul: it has a leader; etcd: healthy (it has a leader)."""
    try:
        if backend == "etcd":
            url = "http://%s:%d/health" % (keystore_address, KEYSTORES[backend][0])
            return json.loads(urllib.request.urlopen(url, timeout=5).read()).get("health") == "true"
        return consul.Consul(host=keystore_address, port=8500).status.leader()
    except (OSError, ValueError, urllib.error.URLError):
        if backend == "consul":
            raise
        return False


def test_my_net_has_one_id_and_global_scope_on_every_engine(engines, docker):
    seen = {engine.backend.hostname: docker(engine, "network", "ls", "--filter", "name=^my-net$",
                                            "--format", "{{.ID}} {{.Driver}} {{.Scope}}") for engine in engines}
    assert len(set(seen.values())) == 1, seen
    network_id, driver, scope = next(iter(seen.values())).split()
    assert (driver, scope) == ("overlay", "global")
    subnet = json.loads(docker(engines[0], "network", "inspect", "my-net"))[0]["IPAM"]["Config"][0]["Subnet"]
    assert subnet == "10.0.9.0/24"


def test_web_is_on_my_net_with_mtu_1450_and_on_docker_gwbridge(engines, busybox, docker):
    web_host = engines[0]
    interfaces = docker(web_host, "run", "--rm", "--network", "container:web", busybox, "sh", "-c",
                        "ip -o -4 addr show eth0; ip -o -4 addr show eth1; cat /sys/class/net/eth0/mtu").splitlines()
    eth0, eth1, mtu = interfaces[0].split()[3], interfaces[1].split()[3], interfaces[2]
    assert eth0.startswith("10.0.9.") and eth0.endswith("/24")
    assert mtu == "1450"
    gwbridge = json.loads(docker(web_host, "network", "inspect", "docker_gwbridge"))[0]["IPAM"]["Config"][0]["Subnet"]
    prefix = gwbridge.split(".")[:2]
    assert eth1.split(".")[:2] == prefix, (eth1, gwbridge)


def test_busybox_on_another_engine_fetches_the_page_from_web(engines, fetch_page):
    probe_host = engines[-1]
    assert probe_host.check_output("hostname") != engines[0].check_output("hostname")
    page = fetch_page(probe_host)
    assert "Welcome to nginx!" in page


def test_the_keystore_lists_every_engine_under_docker_nodes(backend, keystore, keystore_address, engine_addresses):
    registered = registered_engines(backend, keystore, keystore_address)
    expected = {address + ":2376" for address in engine_addresses}
    assert expected <= registered, registered


def test_each_engine_advertises_its_cluster_address_not_its_interface(lab_hosts, lab_groups, lab_vars):
    """A secondary cluster address (mhs-demo1 in the default scenario) is advertised as it is: given an interface,
    Docker would advertise the interface's first address."""
    for name in lab_groups["docker_hosts"]:
        config = json.loads(sh(lab_hosts[name], "cat /etc/docker/daemon.json"))
        assert config["cluster-advertise"] == lab_vars[name]["mhnet_cluster_address"] + ":2376", name


def test_the_users_daemon_json_key_survives_and_the_engine_uses_it(engines, backend, docker):
    for engine in engines:
        config = json.loads(sh(engine, "cat /etc/docker/daemon.json"))
        assert config["labels"] == ["mhnet.prepared=kept"]
        assert config["cluster-store"].startswith(KEYSTORES[backend][1])
        assert "mhnet.prepared=kept" in docker(engine, "info", "--format", "{{json .Labels}}")


def test_networks_survive_a_keystore_restart(backend, keystore, keystore_address, engines, fetch_page, docker):
    before = docker(engines[-1], "network", "ls", "--filter", "name=^my-net$", "--format", "{{.ID}}")
    docker(keystore, "restart", backend)  # the keystore role names the container after its backend
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if keystore_serves(backend, keystore_address):
                break
        except Exception:  # noqa: BLE001 -- the server is still starting
            pass
        time.sleep(1)
    assert keystore_serves(backend, keystore_address), (
        "Consul elected no leader within 60 s of its restart" if backend == "consul" else "%s does not serve within 60 s of its restart" % backend)
    # The engines read global networks from the store: they list my-net again once the store serves reads.
    while time.time() < deadline:
        after = docker(engines[-1], "network", "ls", "--filter", "name=^my-net$", "--format", "{{.ID}}")
        if after:
            break
        time.sleep(1)
    assert after == before
    page = fetch_page(engines[-1])
    assert "Welcome to nginx!" in page
