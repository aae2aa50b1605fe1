"""preflight_report: one failure listing every host's problems, or the cluster plan."""

import pytest

from ansible_collections.mhnet.cluster.plugins.modules.preflight_report import plan


def host(name, address, problems=()):
    return dict(hostname=name, cluster_address=address, problems=list(problems))


def params(hosts, **overrides):
    base = dict(hosts=hosts, mode="kv", keystore_hosts=["mh-keystore"], engine_hosts=["mhs-demo0", "mhs-demo1"],
                keystore_backend="consul", keystore_port=None, swarm_managers=[], swarm_force_rejoin=[])
    base.update(overrides)
    return base


HOSTS = {"mh-keystore": host("mh-keystore", "192.168.151.2"), "mhs-demo0": host("mhs-demo0", "192.168.151.3"),
         "mhs-demo1": host("mhs-demo1", "192.168.151.4")}


def test_plan_for_the_tutorial():
    problems, cluster = plan(params(HOSTS))
    assert problems == []
    assert cluster == dict(mode="kv", engine_hosts=["mhs-demo0", "mhs-demo1"], control_host="mhs-demo0", keystore_backend="consul",
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


def test_swarm_mode_plans_no_keystore_and_one_manager_by_default():
    problems, cluster = plan(params(HOSTS, mode="swarm", keystore_hosts=[]))
    assert problems == []
    assert cluster == dict(mode="swarm", engine_hosts=["mhs-demo0", "mhs-demo1"], control_host="mhs-demo0",
                           managers=["mhs-demo0"], workers=["mhs-demo1"])


SWARM = dict((name, host(name, "192.168.151.%d" % index)) for index, name in enumerate(["n1", "n2", "n3", "n4"], 10))


@pytest.mark.parametrize("managers, expected_managers, problem", [
    (["n2"], ["n2"], None),
    (["n1", "n2", "n3"], ["n1", "n2", "n3"], None),
    (["n1", "n2"], ["n1", "n2"], "2 swarm managers (n1, n2) cannot keep a Raft majority"),
    (["n1", "elsewhere"], ["n1"], "swarm managers elsewhere are not engine hosts of this play"),
])
def test_swarm_managers(managers, expected_managers, problem):
    problems, cluster = plan(params(SWARM, mode="swarm", keystore_hosts=[], engine_hosts=sorted(SWARM), swarm_managers=managers))
    assert cluster["managers"] == expected_managers and cluster["control_host"] == expected_managers[0]
    assert cluster["workers"] == [name for name in sorted(SWARM) if name not in expected_managers]
    assert (problems == []) if problem is None else any(problem in text for text in problems)


def swarm_host(name, address, state="inactive", cluster="", manager=False, managers=()):
    return dict(host(name, address), swarm_state=state, swarm_cluster_id=cluster, swarm_manager=manager,
                swarm_managers=list(managers))


@pytest.mark.parametrize("demo1, rejoin, problem", [
    pytest.param(swarm_host("mhs-demo1", "192.168.151.4"), [], None, id="new host joins"),
    pytest.param(swarm_host("mhs-demo1", "192.168.151.4", "active", managers=["192.168.151.3:2377"]), [], None,
                 id="worker of this swarm"),
    pytest.param(swarm_host("mhs-demo1", "192.168.151.4", "active", "X1", True, ["192.168.151.3:2377"]), [], None,
                 id="manager of this swarm"),
    pytest.param(swarm_host("mhs-demo1", "192.168.151.4", "active", "F9", True, ["127.0.0.1:2377"]), [],
                 "mhs-demo1: this host is in swarm F9 (managers 127.0.0.1:2377), not in swarm X1", id="manager of another swarm"),
    pytest.param(swarm_host("mhs-demo1", "192.168.151.4", "active", managers=["10.1.1.1:2377"]), [],
                 "mhs-demo1: this host is in a swarm managed by 10.1.1.1:2377", id="worker of another swarm"),
    pytest.param(swarm_host("mhs-demo1", "192.168.151.4", "active", "F9", True, ["127.0.0.1:2377"]), ["mhs-demo1"], None,
                 id="allowed to rejoin"),
])
def test_hosts_of_another_swarm_are_refused_in_preflight(demo1, rejoin, problem):
    hosts = {"mhs-demo0": swarm_host("mhs-demo0", "192.168.151.3", "active", "X1", True, ["192.168.151.3:2377"]), "mhs-demo1": demo1}
    problems, dummy = plan(params(hosts, mode="swarm", keystore_hosts=[], swarm_force_rejoin=rejoin))
    assert (problems == []) if problem is None else (len(problems) == 1 and problem in problems[0]), problems


def test_any_swarm_is_foreign_when_the_first_manager_creates_a_new_one():
    hosts = {"mhs-demo0": swarm_host("mhs-demo0", "192.168.151.3"),
             "mhs-demo1": swarm_host("mhs-demo1", "192.168.151.4", "active", "F9", True, ["127.0.0.1:2377"])}
    problems, dummy = plan(params(hosts, mode="swarm", keystore_hosts=[]))
    assert problems == ["mhs-demo1: this host is in swarm F9 (managers 127.0.0.1:2377), not in a new swarm on mhs-demo0 that "
                        "this play forms: nothing was changed. Take it out of the inventory, or set mhnet_swarm_force_rejoin: "
                        "true for it to leave that swarm and join"]
