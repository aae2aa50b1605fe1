"""Preflight checks as tables: versions, interface choice, daemon.json, local and cross-host problems."""

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils._preflight import (
    choose_advertise,
    compiled_kv_backends,
    cluster_problems,
    daemon_json_problem,
    local_problems,
    parse_ip_addr,
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
])
def test_choose_advertise_explains_what_is_wrong(interface, address, default, message):
    found_interface, found_address, problem = choose_advertise(ADDRESSES, interface, address, default)
    assert (found_interface, found_address) == (None, None)
    assert message in problem


@pytest.mark.parametrize("text, mode, message", [
    (None, "kv", None),
    ("", "swarm", None),
    ('{"log-level": "info"}', "kv", None),
    ('{"cluster-store": "consul://x:8500"}', "kv", None),
    ('{"cluster-store": "consul://x:8500"}', "swarm", "swarm mode cannot use"),
    ('{"log-level": ', "kv", "is not valid JSON"),
    ('["a"]', "kv", "not a JSON object"),
])
def test_daemon_json_problem(text, mode, message):
    problem = daemon_json_problem(text, mode)
    assert (problem is None) if message is None else (message in problem)


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
    (engine(reachable=False), "kv", "3.16", ["the Docker engine does not answer (connection refused)"]),
])
def test_local_problems(facts, mode, kernel_min, messages):
    problems = local_problems(facts, mode, kernel_min)
    assert len(problems) == len(messages)
    for problem, message in zip(problems, messages):
        assert message in problem


def test_cluster_problems_name_every_host_sharing_a_hostname_or_address():
    hosts = {
        "mhs-demo0": dict(hostname="node", cluster_address="192.168.151.3"),
        "mhs-demo1": dict(hostname="node", cluster_address="192.168.151.4"),
        "mhs-demo2": dict(hostname="demo2", cluster_address="192.168.151.4"),
    }
    problems = cluster_problems(hosts, "kv")
    assert problems == [
        "hostname 'node' is used by mhs-demo0 and mhs-demo1; the key-value store identifies engines by hostname: "
        "give each host a unique hostname",
        "cluster address 192.168.151.4 is used by mhs-demo1 and mhs-demo2: each host needs its own address",
    ]


def test_cluster_problems_none_for_distinct_hosts():
    hosts = {"a": dict(hostname="a", cluster_address="10.1.0.1"), "b": dict(hostname="b", cluster_address="10.1.0.2")}
    assert cluster_problems(hosts, "kv") == []


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
