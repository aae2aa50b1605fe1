"""preflight_report: one failure listing every host's problems, or the cluster plan."""

import pytest

from ansible_collections.mhnet.cluster.plugins.modules.preflight_report import plan


def host(name, address, problems=()):
    return dict(hostname=name, cluster_address=address, problems=list(problems))


def params(hosts, **overrides):
    base = dict(hosts=hosts, mode="kv", keystore_hosts=["mh-keystore"], engine_hosts=["mhs-demo0", "mhs-demo1"],
                keystore_backend="consul", keystore_port=None)
    base.update(overrides)
    return base


HOSTS = {"mh-keystore": host("mh-keystore", "192.168.151.2"), "mhs-demo0": host("mhs-demo0", "192.168.151.3"),
         "mhs-demo1": host("mhs-demo1", "192.168.151.4")}


def test_plan_for_the_tutorial():
    problems, cluster = plan(params(HOSTS))
    assert problems == []
    assert cluster == dict(mode="kv", engine_hosts=["mhs-demo0", "mhs-demo1"], keystore_backend="consul",
                           keystore_hosts=["mh-keystore"], keystore_address="192.168.151.2", keystore_port=8500,
                           keystore_url="consul://192.168.151.2:8500")


@pytest.mark.parametrize("backend, url", [("etcd", "etcd://192.168.151.2:2379"), ("zookeeper", "zk://192.168.151.2:2181")])
def test_keystore_url_per_backend(backend, url):
    assert plan(params(HOSTS, keystore_backend=backend))[1]["keystore_url"] == url


def test_every_problem_is_reported_with_its_host():
    hosts = dict(HOSTS, **{"mhs-demo0": host("node", "192.168.151.3", ["kernel 3.10 is older than 3.16: upgrade"]),
                           "mhs-demo1": host("node", "192.168.151.4", ["Docker 26.1.5 has no cluster-store"])})
    problems, dummy = plan(params(hosts))
    assert problems == [
        "mhs-demo0: kernel 3.10 is older than 3.16: upgrade",
        "mhs-demo1: Docker 26.1.5 has no cluster-store",
        "hostname 'node' is used by mhs-demo0 and mhs-demo1; the key-value store identifies engines by hostname: "
        "give each host a unique hostname",
    ]


def test_a_host_without_facts_is_reported():
    problems, dummy = plan(params(dict(HOSTS, **{"mhs-demo1": {}})))
    assert problems == ["mhs-demo1: preflight did not report (host unreachable or the module failed): see its error above"]


def test_kv_mode_without_keystore_hosts_is_refused():
    problems, dummy = plan(params(HOSTS, keystore_hosts=[]))
    assert any("needs a keystore host" in problem for problem in problems)


def test_swarm_mode_plans_no_keystore():
    problems, cluster = plan(params(HOSTS, mode="swarm", keystore_hosts=[]))
    assert problems == [] and cluster == dict(mode="swarm", engine_hosts=["mhs-demo0", "mhs-demo1"])
