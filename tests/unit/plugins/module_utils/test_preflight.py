"""Preflight checks as tables: versions, interface choice, daemon.json and local problems."""

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils._preflight import (
    address_prefix,
    choose_advertise,
    compiled_kv_backends,
    daemon_json_problem,
    ipsec_support,
    listening_ports,
    local_problems,
    neighbour_probe_address,
    parse_ip_addr,
    source_address_problem,
    version_tuple,
)

IP_ADDR = """1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: docker0    inet 172.17.0.1/16 brd 172.17.255.255 scope global docker0\\       valid_lft forever
41: eth0    inet 192.168.150.3/24 brd 192.168.150.255 scope global eth0\\       valid_lft forever
43: eth1    inet 192.168.151.3/24 brd 192.168.151.255 scope global eth1\\       valid_lft forever
"""
ADDRESSES = parse_ip_addr(IP_ADDR)


@pytest.mark.parametrize("text, expected", [
    ("6.1.0-18-amd64", (6, 1, 0)),
    ("3.16", (3, 16)),
    ("20.10.5+dfsg1", (20, 10, 5)),
    ("26.1.5+dfsg1", (26, 1, 5)),
    ("v1.8.7", (1, 8, 7)),
])
def test_version_tuple(text, expected):
    assert version_tuple(text) == expected


def test_version_tuple_refuses_text_without_a_number():
    with pytest.raises(ValueError):
        version_tuple("unknown")


def test_parse_ip_addr():
    assert ADDRESSES[2:] == [("eth0", "192.168.150.3", 24), ("eth1", "192.168.151.3", 24)]


@pytest.mark.parametrize("interface, address, default, expected", [
    (None, "192.168.151.3", "eth0", ("eth1", "192.168.151.3", None)),
    ("eth1", None, "eth0", ("eth1", "192.168.151.3", None)),
    (None, None, "eth0", ("eth0", "192.168.150.3", None)),
    ("eth1", "192.168.151.3", None, ("eth1", "192.168.151.3", None)),
])
def test_choose_advertise_finds_the_interface(interface, address, default, expected):
    assert choose_advertise(ADDRESSES, interface, address, default) == expected


@pytest.mark.parametrize("interface, address, default, message", [
    (None, "10.9.9.9", "eth0", "no interface holds the cluster address 10.9.9.9"),
    ("eth0", "192.168.151.3", None, "is on eth1, not on mhnet_cluster_interface eth0"),
    ("eth7", None, None, "interface eth7 has no IPv4 address or does not exist"),
    (None, None, None, "no cluster interface given and no default route"),
    (None, "fd00::3", "eth0", "mhnet_cluster_address fd00::3 is an IPv6 address: the collection builds IPv4 clusters only"),
    (None, "mhs-demo0", "eth0", "mhnet_cluster_address 'mhs-demo0' is not an IP address: give the IPv4 address"),
])
def test_choose_advertise_explains_what_is_wrong(interface, address, default, message):
    found_interface, found_address, problem = choose_advertise(ADDRESSES, interface, address, default)
    assert (found_interface, found_address) == (None, None)
    assert message in problem


@pytest.mark.parametrize("text, mode, message", [
    pytest.param(None, "kv", None, id="no file"),
    pytest.param("", "swarm", None, id="empty file"),
    pytest.param('{"log-level": "info"}', "kv", None, id="other keys"),
    pytest.param('{"cluster-store": "consul://x:8500"}', "kv", None, id="store in kv mode"),
    pytest.param('{"cluster-store": "consul://x:8500"}', "swarm",
                 "{path} still sets cluster-store/cluster-advertise, which swarm mode cannot use: remove both keys and restart Docker "
                 "(or run the key-value mode on a 20.10 engine)", id="store in swarm mode"),
    pytest.param('{"cluster-advertise": "eth1:2376"}', "swarm", "{path} still sets cluster-store/cluster-advertise", id="advertise in swarm mode"),
    # the messages are the shared parser's (module_utils._daemon_json), the same daemon_json refuses the file with
    pytest.param('{"log-level": ', "kv", "{path} is not valid JSON (", id="invalid JSON"),
    pytest.param('["a"]', "swarm", "{path} holds a JSON array, not a JSON object: fix it by hand", id="array"),
])
def test_daemon_json_problem(tmp_path, text, mode, message):
    path = tmp_path / "daemon.json"
    if text is not None:
        path.write_text(text)
    problem = daemon_json_problem(str(path), mode)
    assert (problem is None) if message is None else problem.startswith(message.format(path=path))


def test_an_unreadable_daemon_json_is_a_problem_not_a_failure(tmp_path):
    assert daemon_json_problem(str(tmp_path), "kv").startswith("cannot read %s (" % tmp_path)


def engine(version="20.10.5+dfsg1", kernel="6.1.0", reachable=True):
    return dict(kernel=kernel, engine_reachable=reachable, engine_error="" if reachable else "connection refused",
                engine_version=version if reachable else "")


@pytest.mark.parametrize("facts, mode, kernel_min, messages", [
    (engine(), "kv", "3.16", []),
    (engine(version="26.1.5+dfsg1"), "swarm", "3.16", []),
    (engine(version="26.1.5+dfsg1"), "kv", "3.16", ["Docker 26.1.5+dfsg1 has no cluster-store"]),
    (engine(version="23.0.0"), "kv", "3.16", ["Docker 23.0.0 has no cluster-store"]),
    (engine(kernel="3.10.0-1160.el7"), "kv", "3.16", ["kernel 3.10.0-1160.el7 is older than 3.16"]),
    (engine(kernel="6.1.0"), "kv", "99.0", ["kernel 6.1.0 is older than 99.0"]),
    (engine(reachable=False), "kv", "3.16", ["connection refused: install and start Docker"]),
])
def test_local_problems(facts, mode, kernel_min, messages):
    problems = local_problems(facts, mode, kernel_min)
    assert len(problems) == len(messages)
    for problem, message in zip(problems, messages):
        assert message in problem


@pytest.mark.parametrize("backends, backend, message", [
    (["consul", "etcd", "zookeeper"], "consul", None),
    (["etcd", "zookeeper"], "etcd", None),
    (["etcd", "zookeeper"], "consul", "Docker 20.10.5+dfsg1 on this host was built without the consul key-value backend (its dockerd has: etcd, zookeeper)"),
    (None, "consul", None),
])
def test_a_missing_key_value_backend_is_refused(backends, backend, message):
    facts = dict(engine(), kv_backends=backends)
    problems = local_problems(facts, "kv", "3.16", backend)
    assert (problems == []) if message is None else (len(problems) == 1 and message in problems[0])


def test_compiled_kv_backends_finds_markers_across_chunk_edges(tmp_path):
    binary = tmp_path / "dockerd"
    # the etcd marker straddles the 64-byte chunk boundary; consul is absent
    binary.write_bytes(b"x" * 37 + b"github.com/docker/libkv/store/etcd.New" + b"y" * 100 + b"libkv/store/zookeeper")
    assert compiled_kv_backends(str(binary), chunk_size=64) == ["etcd", "zookeeper"]


@pytest.mark.parametrize("interface, address, prefix", [
    ("eth1", "192.168.151.3", 24),
    ("docker0", "172.17.0.1", 16),
    ("eth0", "192.168.151.3", 0),
    (None, None, 0),
])
def test_address_prefix(interface, address, prefix):
    assert address_prefix(ADDRESSES, interface, address) == prefix


@pytest.mark.parametrize("rc, stderr, expected", [
    pytest.param(0, "", (True, ""), id="state added in the throwaway namespace"),
    pytest.param(2, "Error: Requested AEAD algorithm not found.\n", (False, "Error: Requested AEAD algorithm not found."),
                 id="no AES-GCM (the engine's 'function not implemented')"),
    pytest.param(2, "Error: Requested type not found.\n", (False, "Error: Requested type not found."), id="no ESP"),
    pytest.param(2, "RTNETLINK answers: Function not implemented\n", (False, "RTNETLINK answers: Function not implemented"),
                 id="older iproute2"),
    pytest.param(1, "unshare: unshare failed: Operation not permitted\n", (None, "unshare: unshare failed: Operation not permitted"),
                 id="no namespace: cannot tell"),
    pytest.param(2, "RTNETLINK answers: Operation not permitted", (None, "RTNETLINK answers: Operation not permitted"),
                 id="no CAP_NET_ADMIN: cannot tell"),
    pytest.param(3, "", (None, "the probe exited with 3 and said nothing"), id="silent failure: cannot tell"),
])
def test_ipsec_support(rc, stderr, expected):
    assert ipsec_support(rc, stderr) == expected


def test_a_failed_engine_unit_gets_the_remedy_for_a_failed_unit_not_install_docker():
    facts = dict(engine(reachable=False), engine_unit={"ActiveState": "failed", "Result": "start-limit-hit", "LoadState": "loaded"})
    (problem,) = local_problems(facts, "kv", "3.16")
    assert "docker.service has failed (start-limit-hit)" in problem
    assert "systemctl reset-failed docker.service docker.socket && systemctl start docker" in problem
    assert "install" not in problem


PROC_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   2: 0397A8C0:2134 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
   3: 0497A8C0:0929 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1 0 100 0 0 10 0
   4: 0397A8C0:9C40 0497A8C0:2134 01 00000000:00000000 00:00000000 00000000     0        0 5 1 0 100 0 0 10 0
"""
PROC_TCP6 = """  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:1F0A 00000000000000000000000000000000:0000 0A 0 0 0 0 0
   1: 0000000000000000FFFF00000397A8C0:0CEA 00000000000000000000000000000000:0000 0A 0 0 0 0 0
   2: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 0 0 0 0 0
"""
PROC_UDP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   0: 00000000:12B5 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 6 2 0 0
   1: 0397A8C0:1F0A 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 7 2 0 0
"""


def test_listening_ports_are_those_on_the_cluster_address_or_every_address():
    # tcp: 22 on every address, 8080 on loopback only, 8500 (0x2134) on the cluster address 192.168.151.3, 2345 on
    # another address, a connected socket (state 01); tcp6: 7946 on ::, 3306 on ::ffff:192.168.151.3, 80 on ::1.
    tables = dict(tcp=[PROC_TCP, PROC_TCP6], udp=[PROC_UDP])
    assert listening_ports(tables, "192.168.151.3") == ["tcp/22", "tcp/3306", "tcp/7946", "tcp/8500", "udp/4789", "udp/7946"]
    assert listening_ports(tables, "192.168.151.4") == ["tcp/22", "tcp/2345", "tcp/7946", "udp/4789"]


@pytest.mark.parametrize("address, prefix, probe", [
    ("192.168.151.50", 24, "192.168.151.1"),
    ("192.168.151.1", 24, "192.168.151.2"),
    ("10.1.2.3", 30, "10.1.2.1"),
    ("10.1.2.3", 32, ""),
    ("10.1.2.3", 31, ""),
    ("", 24, ""),
])
def test_neighbour_probe_address_is_another_address_of_the_cluster_network(address, prefix, probe):
    assert neighbour_probe_address(address, prefix) == probe


@pytest.mark.parametrize("route_get, refused", [
    ("192.168.151.1 dev eth1 src 192.168.151.50 uid 0", False),
    ("192.168.151.1 dev eth1 src 192.168.151.3 uid 0", True),
    ("192.168.151.1 via 192.168.150.1 dev eth0 src 192.168.150.3 uid 0", True),
    ("", False),
    ("192.168.151.1 dev eth1 src", False),
])
def test_source_address_problem(route_get, refused):
    problem = source_address_problem("192.168.151.50", "eth1", "192.168.151.1", route_get)
    assert (problem is not None) == refused
    if refused:
        assert problem.startswith("the cluster address 192.168.151.50 is not the address this host sends from")
