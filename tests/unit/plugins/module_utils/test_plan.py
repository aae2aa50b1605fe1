"""Every cross-host rule of the cluster plan, and the plan itself, on plain dicts."""

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils._plan import make_plan

SETTINGS = dict(mode="kv", keystore_backend="consul", keystore_port=0)
KEYSTORES, ENGINES = ("mh-keystore",), ("mhs-demo0", "mhs-demo1")


def facts(name, address, problems=(), mtu=1500, interface="eth1", **swarm):
    found = dict(hostname=name, cluster_address=address, cluster_interface=interface, cluster_mtu=mtu,
                 engine_version="20.10.5+dfsg1", problems=list(problems), swarm_state="inactive", swarm_node_id="", swarm_manager=False,
                 swarm_cluster_id="", swarm_managers=[])
    found.update(swarm)
    return found


def host(name, address, swarm_role="", force_rejoin=False, **kwargs):
    return dict(facts=facts(name, address, **kwargs), swarm_role=swarm_role, force_rejoin=force_rejoin)


TUTORIAL = {"mh-keystore": host("mh-keystore", "192.168.151.2"), "mhs-demo0": host("mhs-demo0", "192.168.151.3"),
            "mhs-demo1": host("mhs-demo1", "192.168.151.4", interface="eth0")}


def plan_for(hosts, keystores=KEYSTORES, engines=ENGINES, **settings):
    return make_plan(dict(SETTINGS, **settings), hosts, keystores, engines)


def test_the_tutorial_plan_holds_members_placements_and_mode_choices():
    problems, plan = plan_for(TUTORIAL)
    assert problems == []
    assert plan == dict(
        mode="kv",
        engines=["mhs-demo0", "mhs-demo1"],
        members={
            "mh-keystore": dict(hostname="mh-keystore", address="192.168.151.2", interface="eth1", mtu=1500,
                                engine_version="20.10.5+dfsg1", swarm_role="", swarm_node_id=""),
            "mhs-demo0": dict(hostname="mhs-demo0", address="192.168.151.3", interface="eth1", mtu=1500,
                              engine_version="20.10.5+dfsg1", swarm_role="", swarm_node_id=""),
            "mhs-demo1": dict(hostname="mhs-demo1", address="192.168.151.4", interface="eth0", mtu=1500,
                              engine_version="20.10.5+dfsg1", swarm_role="", swarm_node_id=""),
        },
        control_host="mhs-demo0", web_host="mhs-demo0", probe_host="mhs-demo1",
        keystore=dict(backend="consul", hosts=["mh-keystore"], address="192.168.151.2", port=8500,
                      url="consul://192.168.151.2:8500",
                      peers=[dict(name="mh-keystore", hostname="mh-keystore", address="192.168.151.2")]),
        swarm={},
        overlay=dict(attachable=False, auto_mtu=1450, viewers=["mhs-demo0", "mhs-demo1"]),
    )


@pytest.mark.parametrize("backend, port, url", [
    ("consul", 0, "consul://192.168.151.2:8500"),
    ("etcd", 0, "etcd://192.168.151.2:2379"),
    ("consul", 18500, "consul://192.168.151.2:18500"),
])
def test_keystore_url_per_backend_and_port(backend, port, url):
    problems, plan = plan_for(TUTORIAL, keystore_backend=backend, keystore_port=port)
    assert problems == [] and plan["keystore"]["url"] == url


def test_zookeeper_is_refused_citing_the_upstream_issue():
    problems, dummy = plan_for(TUTORIAL, keystore_backend="zookeeper")
    assert len(problems) == 1
    assert "https://github.com/moby/libnetwork/issues/2006" in problems[0] and "consul or etcd" in problems[0]


def test_an_unknown_store_is_refused():
    problems, dummy = plan_for(TUTORIAL, keystore_backend="redis")
    assert problems == ["mhnet_keystore_backend 'redis' is not a store this collection runs: choose consul or etcd"]


@pytest.mark.parametrize("keystores, problem", [
    ([], "key-value mode needs a keystore host and the keystore group is empty or not targeted"),
    (["ks1", "ks2"], "2 keystore hosts (ks1, ks2) cannot keep a majority when one fails: use 1 or 3"),
])
def test_keystore_group_size(keystores, problem):
    hosts = dict(TUTORIAL, ks1=host("ks1", "192.168.151.8"), ks2=host("ks2", "192.168.151.9"))
    problems, dummy = plan_for(hosts, keystores=keystores)
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_three_keystore_peers_in_inventory_order():
    hosts = dict(TUTORIAL, ks1=host("ks1", "192.168.151.8"), ks2=host("ks2", "192.168.151.9"))
    problems, plan = plan_for(hosts, keystores=["ks2", "mh-keystore", "ks1"])
    assert problems == []
    assert [peer["address"] for peer in plan["keystore"]["peers"]] == ["192.168.151.9", "192.168.151.2", "192.168.151.8"]
    assert plan["keystore"]["address"] == "192.168.151.9"


def test_every_problem_is_reported_with_its_host():
    hosts = dict(TUTORIAL, **{"mhs-demo0": host("node", "192.168.151.3", problems=["kernel 3.10 is older than 3.16: upgrade"]),
                              "mhs-demo1": host("node", "192.168.151.4", problems=["Docker 26.1.5 has no cluster-store"])})
    problems, dummy = plan_for(hosts)
    assert problems == [
        "mhs-demo0: kernel 3.10 is older than 3.16: upgrade",
        "mhs-demo1: Docker 26.1.5 has no cluster-store",
        "hostname 'node' is used by mhs-demo0 and mhs-demo1; the key-value store identifies engines by hostname: "
        "give each host a unique hostname",
    ]


def test_a_shared_cluster_address_is_refused():
    hosts = dict(TUTORIAL, **{"mhs-demo1": host("mhs-demo1", "192.168.151.3")})
    problems, dummy = plan_for(hosts)
    assert problems == ["cluster address 192.168.151.3 is used by mhs-demo0 and mhs-demo1: each host needs its own address"]


def test_a_host_without_facts_is_reported():
    problems, dummy = plan_for(dict(TUTORIAL, **{"mhs-demo1": dict(facts=None, swarm_role="", force_rejoin=False)}))
    assert problems == ["mhs-demo1: preflight did not report (host unreachable or the module failed): see its error above"]


def test_no_engine_is_refused():
    problems, dummy = plan_for(TUTORIAL, engines=[])
    assert any(problem.startswith("no engine hosts in this play") for problem in problems)


def test_a_swarm_role_in_key_value_mode_is_refused():
    hosts = dict(TUTORIAL, **{"mhs-demo1": host("mhs-demo1", "192.168.151.4", swarm_role="manager")})
    problems, dummy = plan_for(hosts)
    assert problems == ["mhs-demo1: mhnet_swarm_role is set but the cluster runs in key-value mode, where it means "
                        "nothing: remove it, or set mhnet_cluster_mode: swarm"]


def test_auto_mtu_follows_the_smallest_engine_mtu():
    hosts = dict(TUTORIAL, **{"mhs-demo1": host("mhs-demo1", "192.168.151.4", mtu=1400)})
    assert plan_for(hosts)[1]["overlay"]["auto_mtu"] == 1350


SWARM_NAMES = ("n1", "n2", "n3", "n4")


def swarm_hosts(roles=None, **overrides):
    hosts = dict((name, host(name, "192.168.151.%d" % index, swarm_role=(roles or {}).get(name, "")))
                 for index, name in enumerate(SWARM_NAMES, 10))
    hosts.update(overrides)
    return hosts


def swarm_plan(hosts, engines=SWARM_NAMES):
    return plan_for(hosts, keystores=[], engines=engines, mode="swarm")


def test_swarm_mode_plans_no_keystore_and_the_first_engine_as_the_only_manager():
    problems, plan = swarm_plan(swarm_hosts())
    assert problems == []
    assert plan["keystore"] == {}
    assert plan["swarm"] == dict(managers=["n1"], workers=["n2", "n3", "n4"], may_rejoin=[], control_leaves=False)
    assert (plan["control_host"], plan["web_host"], plan["probe_host"]) == ("n1", "n1", "n4")
    assert plan["overlay"] == dict(attachable=True, auto_mtu=1450, viewers=["n1"])
    assert [plan["members"][name]["swarm_role"] for name in SWARM_NAMES] == ["manager", "worker", "worker", "worker"]


def test_the_first_engine_may_be_a_worker_and_still_runs_web():
    problems, plan = swarm_plan(swarm_hosts({"n1": "worker", "n2": "manager"}))
    assert problems == []
    assert (plan["control_host"], plan["web_host"], plan["probe_host"]) == ("n2", "n1", "n4")
    assert plan["swarm"]["managers"] == ["n2"] and plan["overlay"]["viewers"] == ["n2"]


@pytest.mark.parametrize("roles, managers, problem", [
    ({"n2": "manager"}, ["n2"], None),
    ({"n1": "manager", "n2": "manager", "n3": "manager"}, ["n1", "n2", "n3"], None),
    ({"n1": "worker"}, ["n2"], None),
    ({"n1": "manager", "n2": "manager"}, ["n1", "n2"], "2 swarm managers (n1, n2) cannot keep a Raft majority"),
    ({"n1": "worker", "n2": "worker", "n3": "worker", "n4": "worker"}, [], "every engine has mhnet_swarm_role: worker"),
    ({"n3": "leader"}, ["n1"], "n3: mhnet_swarm_role is 'leader': use manager or worker"),
])
def test_swarm_roles(roles, managers, problem):
    problems, plan = swarm_plan(swarm_hosts(roles))
    assert plan["swarm"]["managers"] == managers
    assert plan["swarm"]["workers"] == [name for name in SWARM_NAMES if name not in managers]
    assert (problems == []) if problem is None else (len(problems) == 1 and problem in problems[0]), problems


def test_a_manager_outside_the_engine_group_is_refused():
    problems, dummy = swarm_plan(swarm_hosts({"n4": "manager"}), engines=list(SWARM_NAMES[:3]))
    assert problems == ["n4: mhnet_swarm_role is set but the host is not in the engine group: put it in that group or "
                        "remove the setting"]


def member_of(address, state="active", cluster="", manager=False, managers=()):
    return dict(swarm_state=state, swarm_cluster_id=cluster, swarm_manager=manager, swarm_managers=list(managers))


@pytest.mark.parametrize("n2, problem", [
    pytest.param(member_of("", state="inactive"), None, id="new host joins"),
    pytest.param(member_of("", managers=["192.168.151.10:2377"]), None, id="worker of this swarm"),
    pytest.param(member_of("", cluster="X1", manager=True, managers=["192.168.151.10:2377"]), None, id="manager of this swarm"),
    pytest.param(member_of("", cluster="F9", manager=True, managers=["127.0.0.1:2377"]),
                 "n2: this host is in swarm F9 (managers 127.0.0.1:2377), not in swarm X1", id="manager of another swarm"),
    pytest.param(member_of("", managers=["10.1.1.1:2377"]),
                 "n2: this host is in a swarm managed by 10.1.1.1:2377", id="worker of another swarm"),
])
def test_hosts_of_another_swarm_are_refused(n2, problem):
    hosts = dict(n1=host("n1", "192.168.151.10", **member_of("", cluster="X1", manager=True, managers=["192.168.151.10:2377"])),
                 n2=host("n2", "192.168.151.11", **n2))
    problems, dummy = swarm_plan(hosts, engines=["n1", "n2"])
    assert (problems == []) if problem is None else (len(problems) == 1 and problem in problems[0]), problems


def test_a_host_of_another_swarm_may_rejoin_when_allowed():
    hosts = dict(n1=host("n1", "192.168.151.10"),
                 n2=host("n2", "192.168.151.11", force_rejoin=True, **member_of("", cluster="F9", manager=True, managers=["x:2377"])))
    problems, plan = swarm_plan(hosts, engines=["n1", "n2"])
    assert problems == [] and plan["swarm"]["control_leaves"] is False and plan["swarm"]["may_rejoin"] == ["n2"]


def test_any_swarm_is_foreign_when_the_first_manager_creates_a_new_one():
    hosts = dict(n1=host("n1", "192.168.151.10"),
                 n2=host("n2", "192.168.151.11", **member_of("", cluster="F9", manager=True, managers=["127.0.0.1:2377"])))
    problems, dummy = swarm_plan(hosts, engines=["n1", "n2"])
    assert problems == ["n2: this host is in swarm F9 (managers 127.0.0.1:2377), not in a new swarm on n1 that this play "
                        "forms: nothing was changed. Take it out of the inventory, or set mhnet_swarm_force_rejoin: true "
                        "for it to leave that swarm and join"]


def test_a_first_manager_that_is_a_worker_elsewhere_is_refused_without_rejoin():
    hosts = dict(n1=host("n1", "192.168.151.10", **member_of("", managers=["10.9.9.9:2377"])), n2=host("n2", "192.168.151.11"))
    problems, dummy = swarm_plan(hosts, engines=["n1", "n2"])
    assert problems == ["n1: this host is in a swarm managed by 10.9.9.9:2377, not in a new swarm on n1 that this play "
                        "forms: nothing was changed. Take it out of the inventory, or set mhnet_swarm_force_rejoin: true "
                        "for it to leave that swarm and join"]


def test_a_first_manager_that_is_a_worker_elsewhere_leaves_first_when_allowed():
    hosts = dict(n1=host("n1", "192.168.151.10", force_rejoin=True, **member_of("", managers=["10.9.9.9:2377"])),
                 n2=host("n2", "192.168.151.11"))
    problems, plan = swarm_plan(hosts, engines=["n1", "n2"])
    assert problems == [] and plan["swarm"]["control_leaves"] is True


def test_cluster_wide_calls_go_through_a_planned_manager_that_already_manages_the_swarm():
    # Roles change from [n2] to [n1, n2, n3]: n1 is still a worker of the swarm n2 manages.
    live = dict(swarm_state="active", swarm_cluster_id="X1", swarm_manager=True, swarm_managers=["192.168.151.11:2377"])
    hosts = swarm_hosts({"n1": "manager", "n2": "manager", "n3": "manager"},
                        n1=host("n1", "192.168.151.10", swarm_role="manager", **member_of("", managers=["192.168.151.11:2377"])),
                        n2=host("n2", "192.168.151.11", swarm_role="manager", **live))
    problems, plan = swarm_plan(hosts, engines=["n1", "n2", "n3"])
    assert problems == []
    assert plan["control_host"] == "n2" and plan["swarm"]["managers"] == ["n1", "n2", "n3"]
    assert plan["web_host"] == "n1" and plan["swarm"]["control_leaves"] is False
