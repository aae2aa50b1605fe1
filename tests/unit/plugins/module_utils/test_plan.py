"""Every cross-host rule of the cluster plan, and the plan itself, on plain dicts."""

import copy

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils._connectivity import host_connections
from ansible_collections.mhnet.cluster.plugins.module_utils._plan import WORKLOAD_NETWORK, make_plan

SETTINGS = dict(mode="kv", keystore_backend="consul", keystore_port=None)
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
    plan.pop("connectivity")  # test_connections_*
    assert plan == dict(
        mode="kv",
        engines=["mhs-demo0", "mhs-demo1"],
        leaving=[],
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
                      peers=[dict(name="mh-keystore", hostname="mh-keystore", address="192.168.151.2")],
                      tls=False, acl=False, tls_files={}),
        swarm={},
        overlay=dict(auto_mtu=1500, networks=[], viewers=["mhs-demo0", "mhs-demo1"], in_sync=[]),
    )


@pytest.mark.parametrize("backend, port, url", [
    ("consul", None, "consul://192.168.151.2:8500"),
    ("etcd", None, "etcd://192.168.151.2:2379"),
    ("consul", 18500, "consul://192.168.151.2:18500"),
])
def test_keystore_url_per_backend_and_port(backend, port, url):
    problems, plan = plan_for(TUTORIAL, keystore_backend=backend, keystore_port=port)
    assert problems == [] and plan["keystore"]["url"] == url


@pytest.mark.parametrize("settings, advertise_port, expected", [
    pytest.param(dict(keystore_port=70000), None, "mhnet_keystore_port is 70000, not a TCP port (1-65535): give a port number, "
                 "or leave it unset for the default, the backend's own (8500 for Consul, 8501 with TLS, 2379 for etcd)", id="store port too high"),
    pytest.param(dict(keystore_port=0), None, "mhnet_keystore_port is 0, not a TCP port (1-65535)", id="store port 0"),
    pytest.param(dict(keystore_port=7946), None, "mhnet_keystore_port is 7946, the port of engine gossip", id="store port taken"),
    pytest.param(dict(mode="swarm", swarm_port=70000), None, "mhnet_swarm_port is 70000, not a TCP port (1-65535): give a port "
                 "number, or leave it unset for the default, 2377", id="swarm port too high"),
    pytest.param(dict(mode="swarm", swarm_port=-1), None, "mhnet_swarm_port is -1, not a TCP port", id="swarm port negative"),
    pytest.param(dict(), 99999, "mhs-demo0: engine_advertise_port is 99999, not a TCP port (1-65535)", id="advertise port"),
    pytest.param(dict(), "http", "mhs-demo0: engine_advertise_port is 'http', not a TCP port", id="advertise port not a number"),
])
def test_a_port_that_is_not_one_is_refused_by_the_plan(settings, advertise_port, expected):
    hosts = copy.deepcopy(TUTORIAL)
    hosts["mhs-demo0"]["advertise_port"] = advertise_port
    problems, dummy = plan_for(hosts, **settings)
    assert [problem for problem in problems if expected in problem], problems
    assert len(problems) == 1, problems


@pytest.mark.parametrize("settings, advertise_port", [
    (dict(keystore_port=1), "2376"), (dict(keystore_port=65535), 12376), (dict(mode="swarm", swarm_port=65535), None),
    (dict(mode="swarm", swarm_port=None), 99999),  # the advertise port means nothing in swarm mode
])
def test_ports_within_range_are_taken(settings, advertise_port):
    hosts = copy.deepcopy(TUTORIAL)
    hosts["mhs-demo0"]["advertise_port"] = advertise_port
    assert not [problem for problem in plan_for(hosts, **settings)[0] if "port" in problem]


@pytest.mark.parametrize("mode, host_name, refused", [
    ("kv", "mhs-demo0", True), ("swarm", "mhs-demo0", False), ("kv", "mh-keystore", False),
])
def test_a_daemon_json_key_the_unit_gives_as_a_flag_is_refused_on_an_engine_the_kv_mode_restarts(mode, host_name, refused):
    hosts = copy.deepcopy(TUTORIAL)
    hosts[host_name]["facts"]["daemon_json_flag_conflicts"] = [["hosts", "-H fd://"]]
    problems, dummy = plan_for(hosts, mode=mode)
    expected = ["%s: daemon.json sets 'hosts', which docker.service also gives dockerd as -H fd:// in its ExecStart: dockerd "
                "refuses to start with an option given both ways, and the engine phase restarts the engine. Take the key out of "
                "daemon.json, or drop the flag from the unit (systemctl edit docker.service)" % host_name]
    assert [problem for problem in problems if "daemon.json sets" in problem] == (expected if refused else [])


@pytest.mark.parametrize("networks, workload_network, created", [
    pytest.param([], None, "none", id="no networks"),
    pytest.param([dict(name="app-net", ipam_config=[dict(subnet="10.0.19.0/24")])], None, "app-net", id="another network only"),
    pytest.param([dict(name="my-net", state="absent")], None, "none", id="the workload's network removed"),
    pytest.param([dict(name="my-net", ipam_config=[dict(subnet="10.0.9.0/24")])], "app-net", "my-net", id="workload_network set"),
])
def test_overlay_networks_without_the_workloads_network_are_refused(networks, workload_network, created):
    settings = dict(overlay_networks=networks)
    if workload_network is not None:
        settings["workload_network"] = workload_network
    problems, dummy = plan_for(TUTORIAL, **settings)
    assert problems == ["the workload runs web and the probe on network '%s' (workload_network), which overlay_networks does not "
                        "create (it creates: %s): add it to overlay_networks, set workload_network to one of those in the inventory "
                        "(where preflight reads it), or skip the workload (--skip-tags workload)" % (workload_network or "my-net", created)]


@pytest.mark.parametrize("networks, workload_network", [
    ([dict(name="app-net", ipam_config=[dict(subnet="10.0.19.0/24")])], "app-net"), ([], ""),
])
def test_the_workloads_network_created_or_the_workload_skipped_is_accepted(networks, workload_network):
    assert plan_for(TUTORIAL, overlay_networks=networks, workload_network=workload_network)[0] == []


def test_the_plans_workload_network_is_the_workload_roles_default():
    assert load_yaml("roles", "workload", "defaults", "main.yml")["workload_network"] == WORKLOAD_NETWORK


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


@pytest.mark.parametrize("mode, attachable", [("kv", False), ("swarm", True)])
def test_the_plan_publishes_the_networks_resolved_for_the_overlay_role(mode, attachable):
    hosts = dict(TUTORIAL, **{"mhs-demo1": host("mhs-demo1", "192.168.151.4", interface="eth0", cluster_mtu=1400)})
    networks = [dict(name="my-net", ipam_config=[dict(subnet="10.0.9.0/24")], mtu="auto"),
                dict(name="app-net", attachable=not attachable, mtu=1300), dict(name="old-net", state="absent")]
    problems, plan = plan_for(hosts, keystores=KEYSTORES if mode == "kv" else [], mode=mode, overlay_networks=networks)
    assert problems == []
    assert plan["overlay"]["networks"] == [
        dict(name="my-net", ipam_config=[dict(subnet="10.0.9.0/24")], mtu=1400, attachable=attachable),
        dict(name="app-net", attachable=not attachable, mtu=1300), dict(name="old-net", state="absent", attachable=attachable)]
    assert networks[0]["mtu"] == "auto", "the inventory's entries are not changed"


def test_a_plan_with_problems_publishes_no_networks():
    problems, plan = plan_for(TUTORIAL, overlay_networks=[dict(name="my net!")])
    assert problems and plan["overlay"]["networks"] == []


def test_auto_mtu_follows_the_smallest_engine_mtu():
    hosts = dict(TUTORIAL, **{"mhs-demo1": host("mhs-demo1", "192.168.151.4", mtu=1400)})
    assert plan_for(hosts)[1]["overlay"]["auto_mtu"] == 1400


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
    assert plan["swarm"] == dict(managers=["n1"], workers=["n2", "n3", "n4"], may_rejoin=[], control_leaves=False, port=2377)
    assert (plan["control_host"], plan["web_host"], plan["probe_host"]) == ("n1", "n1", "n2")
    assert plan["overlay"] == dict(auto_mtu=1500, networks=[], viewers=["n1"], in_sync=[])
    assert [plan["members"][name]["swarm_role"] for name in SWARM_NAMES] == ["manager", "worker", "worker", "worker"]


def test_the_first_engine_may_be_a_worker_and_still_runs_web():
    problems, plan = swarm_plan(swarm_hosts({"n1": "worker", "n2": "manager"}))
    assert problems == []
    assert (plan["control_host"], plan["web_host"], plan["probe_host"]) == ("n2", "n1", "n2")
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


# --- Rules on what would be refused only after a change: cluster subnets, clocks, the overlay_networks list ---

import os  # noqa: E402

import yaml  # noqa: E402

# not the action plugin: importing Ansible's controller side would switch module tracebacks off for later tests
from ansible_collections.mhnet.cluster.plugins.module_utils._plan import (  # noqa: E402
    DEFAULT_OVERLAY_NETWORKS,
    KEYSTORE_IMAGES,
    OVERLAY_KEYS,
    PHASE_IMAGES,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
BLANK_ENGINE = dict(
    cluster_prefix=24, clock=1795860000.0, ipsec_supported=None, ipsec_error="",
    engine_networks=[dict(name="bridge", subnets=["172.17.0.0/16"]), dict(name="host", subnets=[]), dict(name="none", subnets=[])],
    routes=[["192.168.151.0/24", "eth1"], ["192.168.150.0/24", "eth0"], ["172.17.0.0/16", "docker0"]],
)


def lab_host(name, address, **overrides):
    return host(name, address, **dict(BLANK_ENGINE, **overrides))


def lab(**overrides):
    """The tutorial's hosts with everything preflight gathers; overrides: {name: {fact: value}}."""
    addresses = {"mh-keystore": "192.168.151.2", "mhs-demo0": "192.168.151.3", "mhs-demo1": "192.168.151.4"}
    return dict((name, lab_host(name, address, **overrides.get(name, {}))) for name, address in addresses.items())


def test_the_plan_of_a_full_lab_is_unchanged_by_the_new_facts():
    problems, plan = plan_for(lab(), overlay_networks=DEFAULT_OVERLAY_NETWORKS, clock_skew_max=10)
    assert problems == []
    tutorial = plan_for(TUTORIAL, overlay_networks=DEFAULT_OVERLAY_NETWORKS)[1]
    assert plan == tutorial | dict(members=plan["members"])
    assert set(plan["members"]["mhs-demo0"]) == {"hostname", "address", "interface", "mtu", "engine_version", "swarm_role", "swarm_node_id"}


@pytest.mark.parametrize("overrides, mode, problem", [
    pytest.param({}, "kv", None, id="one subnet"),
    pytest.param({"mhs-demo1": dict(cluster_address="192.168.151.200", cluster_prefix=25)}, "kv",
                 "the hosts advertise cluster addresses in 2 different subnets: 192.168.151.0/24: mh-keystore 192.168.151.2 (eth1), "
                 "mhs-demo0 192.168.151.3 (eth1); 192.168.151.128/25: mhs-demo1 192.168.151.200 (eth1); every engine and keystore "
                 "host must advertise its address on the one cluster network (a host whose default route is on another network "
                 "advertises that network's address): set mhnet_cluster_address (or mhnet_cluster_interface) for the hosts outside it",
                 id="prefixes differ"),
    pytest.param({"mhs-demo1": dict(cluster_address="192.168.150.4", cluster_interface="eth0")}, "kv",
                 "192.168.150.0/24: mhs-demo1 192.168.150.4 (eth0); 192.168.151.0/24: mh-keystore 192.168.151.2 (eth1), "
                 "mhs-demo0 192.168.151.3 (eth1)", id="the management address of one engine"),
    pytest.param({"mh-keystore": dict(cluster_address="192.168.150.2")}, "kv", "192.168.150.0/24: mh-keystore 192.168.150.2",
                 id="a keystore host in key-value mode"),
    pytest.param({"mh-keystore": dict(cluster_address="192.168.150.2")}, "swarm", None, id="keystore hosts do not count in swarm mode"),
    pytest.param({"mhs-demo1": dict(cluster_address="192.168.150.4", cluster_prefix=0)}, "kv", None,
                 id="a host without a prefix is skipped"),
    pytest.param({"mhs-demo0": dict(cluster_address="203.0.113.7", cluster_prefix=32),
                  "mhs-demo1": dict(cluster_address="198.51.100.9", cluster_prefix=32)}, "kv", None,
                 id="point-to-point /32 addresses name no shared network"),
])
def test_every_host_advertises_an_address_in_one_subnet(overrides, mode, problem):
    problems, dummy = plan_for(lab(**overrides), mode=mode, workload_network="", overlay_networks=[])
    assert (problems == []) if problem is None else (len(problems) == 1 and problem in problems[0]), problems


@pytest.mark.parametrize("offsets, limit, problem", [
    pytest.param((0, 0.4, 3.2), 10, None, id="within the limit"),
    pytest.param((0, 0, 10.0), 10, None, id="at the limit"),
    pytest.param((0, 42.25, 0.5), 10,
                 "the hosts' clocks are 42.2 s apart, more than mhnet_clock_skew_max (10 s): mh-keystore +0.0, mhs-demo1 +0.5, "
                 "mhs-demo0 +42.2 (seconds after the earliest); TLS joins and certificates fail on skewed clocks: synchronise "
                 "the hosts' clocks (NTP: chrony or systemd-timesyncd), or raise mhnet_clock_skew_max if preflight itself "
                 "takes that long to reach every host (hosts beyond the play's forks are read later)", id="one clock ahead"),
    pytest.param((5, 0, 2), 2.5, "the hosts' clocks are 5.0 s apart, more than mhnet_clock_skew_max (2.5 s): mhs-demo0 +0.0, "
                 "mhs-demo1 +2.0, mh-keystore +5.0", id="a tighter limit"),
    pytest.param((0, 3600, 0), 0, None, id="0 turns the check off"),
    pytest.param((0, None, 3600), 10, "mh-keystore +0.0, mhs-demo1 +3600.0", id="a host without a clock is skipped"),
])
def test_clocks_further_apart_than_the_limit_are_refused(offsets, limit, problem):
    names = ("mh-keystore", "mhs-demo0", "mhs-demo1")
    hosts = lab(**dict((name, dict(clock=None if offset is None else 1795860000.0 + offset)) for name, offset in zip(names, offsets)))
    problems, dummy = plan_for(hosts, clock_skew_max=limit, workload_network="", overlay_networks=[])
    assert (problems == []) if problem is None else (len(problems) == 1 and problem in problems[0]), problems


def net(name="my-net", subnet="10.0.9.0/24", **options):
    entry = dict(name=name, **options)
    if subnet is not None:
        entry["ipam_config"] = [dict(subnet=subnet)]
    return entry


GWBRIDGE = dict(engine_networks=BLANK_ENGINE["engine_networks"] + [dict(name="docker_gwbridge", subnets=["172.18.0.0/16"]),
                                                                   dict(name="my-net", subnets=["10.0.9.0/24"])],
                routes=BLANK_ENGINE["routes"] + [["172.18.0.0/16", "docker_gwbridge"]])

GWBRIDGE_TO_COME = dict(name="docker_gwbridge", subnet="172.18.0.0/16", why="which Docker makes with the first container on an overlay network")
PENDING_BIP = dict(name="docker0", subnet="10.0.9.0/24", why="daemon.json's bip, which the engine applies when it restarts")


@pytest.mark.parametrize("networks, mode, overrides, expected", [
    # what the overlay phase creates today, and re-runs
    pytest.param([net()], "kv", {}, [], id="the default list"),
    pytest.param([net(), net("app", "10.0.10.0/24", mtu="auto", attachable=True, labels=dict(a="b"))], "kv", {}, [], id="two networks"),
    pytest.param([net()], "kv", {"mhs-demo0": GWBRIDGE, "mhs-demo1": GWBRIDGE}, [], id="a re-run: my-net is the entry itself"),
    pytest.param([net("old net", state="absent", subnet="172.17.0.0/16", mtu=1), net("my-net")], "kv", {}, [],
                 id="an entry to remove is not checked but for its keys"),
    pytest.param([], "kv", {}, [], id="no networks"),
    # names
    pytest.param([net("my net!")], "kv", {},
                 ["overlay_networks[0] 'my net!': 'my net!' is not a network name Docker accepts in key-value mode (a letter or "
                  "digit, then letters, digits, '_', '.' or '-'): rename it, for example 'my-net'"], id="kv: a name Docker cannot use"),
    pytest.param([net("my.net")], "kv", {}, [], id="kv: dots are fine"),
    pytest.param([net("my.net")], "swarm", {},
                 ["overlay_networks[0] 'my.net': 'my.net' is not a network name Docker accepts in swarm mode (letters and digits, "
                  "joined by single or repeated '-' or '_', at most 63 characters (a DNS name component)): rename it, for "
                  "example 'my-net'"], id="swarm: a DNS name component"),
    pytest.param([net("n" * 64)], "swarm", {},
                 ["overlay_networks[0] '%s': '%s' is 64 characters long, more than the 63 Docker accepts for a network name in swarm "
                  "mode: shorten it, for example to '%s'" % ("n" * 64, "n" * 64, "n" * 63)], id="swarm: 64 characters"),
    pytest.param([net("bridge", "10.0.9.0/24")], "kv", {},
                 ["overlay_networks[0] 'bridge': 'bridge' is the name of a network Docker makes itself: give the network another name"],
                 id="Docker's own network"),
    pytest.param([net(), net(subnet="10.0.10.0/24")], "kv", {},
                 ["network 'my-net' is given 2 times in overlay_networks (entries 0, 1): keep one entry per network"], id="a name twice"),
    # subnets
    pytest.param([net(subnet="10.0.9.1/24")], "kv", {},
                 ["overlay_networks[0] 'my-net': ipam_config[0].subnet '10.0.9.1/24' is not a valid CIDR network: 10.0.9.1/24 has "
                  "host bits set; write it as NETWORK/PREFIX, for example 10.0.9.0/24"], id="host bits set"),
    pytest.param([net(subnet="ten/24")], "kv", {}, ["ipam_config[0].subnet 'ten/24' is not a valid CIDR network"], id="not a CIDR"),
    pytest.param([dict(name="my-net", ipam_config=[dict(subnet="10.0.9.0/24", gateway="10.0.10.1")])], "kv", {},
                 ["overlay_networks[0] 'my-net': ipam_config[0].gateway 10.0.10.1 is not inside subnet 10.0.9.0/24"], id="gateway outside"),
    pytest.param([net(), net("other", "10.0.9.128/25")], "kv", {},
                 ["overlay_networks[1] 'other' subnet 10.0.9.128/25 overlaps overlay_networks[0] 'my-net' subnet 10.0.9.0/24: give "
                  "each network a subnet of its own"], id="two networks of the list overlap"),
    pytest.param([dict(name="my-net", ipam_config=[dict(subnet="10.0.0.0/16"), dict(subnet="10.0.9.0/24")])], "kv", {},
                 ["overlay_networks[0] 'my-net' subnet 10.0.9.0/24 overlaps overlay_networks[0] 'my-net' subnet 10.0.0.0/16"],
                 id="two pools of one network overlap"),
    # against every engine's networks and routes
    pytest.param([net("bad", "172.17.0.0/16")], "kv", {},
                 ["overlay_networks[0] 'bad' subnet 172.17.0.0/16 overlaps on mhs-demo0 and mhs-demo1: network 'bridge' (172.17.0.0/16), "
                  "route 172.17.0.0/16 on docker0: choose a subnet that no engine uses (or set check_overlap: false on the entry if "
                  "the overlap is intended)"], id="docker0 on every engine"),
    pytest.param([net("bad", "172.18.128.0/17")], "kv", {"mhs-demo1": GWBRIDGE},
                 ["overlay_networks[0] 'bad' subnet 172.18.128.0/17 overlaps on mhs-demo1: network 'docker_gwbridge' (172.18.0.0/16), "
                  "route 172.18.0.0/16 on docker_gwbridge: choose"], id="docker_gwbridge on one engine"),
    pytest.param([net("bad", "192.168.150.0/25")], "kv", {"mhs-demo0": dict(routes=[])},
                 ["overlay_networks[0] 'bad' subnet 192.168.150.0/25 overlaps on mhs-demo1: route 192.168.150.0/24 on eth0: choose"],
                 id="a host route on one engine"),
    pytest.param([net("bad", "10.1.0.0/16")], "kv", {"mhs-demo0": dict(engine_networks=[dict(name="db", subnets=["10.1.2.0/24"])])},
                 ["overlay_networks[0] 'bad' subnet 10.1.0.0/16 overlaps on mhs-demo0: network 'db' (10.1.2.0/24): choose"],
                 id="another engine network"),
    pytest.param([net("bad", "172.18.0.0/16")], "kv", {"mhs-demo0": dict(engine_upcoming_networks=[GWBRIDGE_TO_COME])},
                 ["overlay_networks[0] 'bad' subnet 172.18.0.0/16 overlaps on mhs-demo0: docker_gwbridge's 172.18.0.0/16 to come, which "
                  "Docker makes with the first container on an overlay network: choose"], id="docker_gwbridge not made yet"),
    pytest.param([net()], "swarm", {"mhs-demo1": dict(engine_upcoming_networks=[PENDING_BIP])},
                 ["overlay_networks[0] 'my-net' subnet 10.0.9.0/24 overlaps on mhs-demo1: docker0's 10.0.9.0/24 to come, daemon.json's "
                  "bip, which the engine applies when it restarts: choose"], id="a bip not applied yet"),
    pytest.param([net("bad", "172.17.0.0/16", check_overlap=False)], "kv", {}, [], id="check_overlap: false"),
    pytest.param([net("bad", "172.17.0.0/16")], "kv", {"mh-keystore": dict(engine_networks=[], routes=[])},
                 ["overlaps on mhs-demo0 and mhs-demo1: network 'bridge'"], id="only engines count"),
    # MTU: the network's MTU is the underlay's, Docker subtracts VXLAN's 50 bytes (76 encrypted) for its interfaces
    pytest.param([net(mtu=1500), net("a", "10.0.10.0/24", mtu=118), net("b", "10.0.11.0/24", mtu="1400")], "kv", {}, [],
                 id="MTUs within"),
    pytest.param([net(mtu=100)], "kv", {},
                 ["overlay_networks[0] 'my-net': mtu 100 is too small: Docker gives the VXLAN interface and the containers the "
                  "network's MTU less 50 bytes (VXLAN), and Linux refuses an interface below 68 bytes (containers would fail with "
                  "'error creating vxlan interface: invalid argument'): give at least 118, or mtu: auto"], id="MTU 100"),
    pytest.param([net(mtu=140, encrypted=True)], "swarm", {}, [("mtu 140 is too small: Docker gives the VXLAN interface and the "
                 "containers the network's MTU less 76 bytes (VXLAN and IPsec)", "give at least 144")], id="encrypted: IPsec too"),
    pytest.param([net(mtu=70000)], "kv", {},
                 ["overlay_networks[0] 'my-net': mtu 70000 is more than the cluster interface MTU of mhs-demo0 (1500 on eth1), "
                  "mhs-demo1 (1500 on eth1): the network's MTU is what VXLAN packets take on that interface, so they would be "
                  "fragmented or dropped: give at most 1500, or mtu: auto"], id="MTU 70000"),
    pytest.param([net(mtu=1500)], "kv", {"mhs-demo1": dict(cluster_mtu=1400)},
                 [("mtu 1500 is more than the cluster interface MTU of mhs-demo1 (1400 on eth1)", "give at most 1400")],
                 id="the smallest engine MTU"),
    pytest.param([net(driver_options={"com.docker.network.driver.mtu": "9000"})], "kv", {}, ["mtu 9000 is more than"],
                 id="the MTU as a driver option"),
    pytest.param([net(mtu="big")], "kv", {}, ["overlay_networks[0] 'my-net': mtu 'big' is neither a number nor auto: give the MTU "
                                              "of the cluster interfaces (1500) or auto"], id="not a number"),
    # encryption
    pytest.param([net(encrypted=True)], "kv", {},
                 ["overlay_networks[0] 'my-net': encrypted: true needs swarm mode: engines exchange the IPsec keys through the "
                  "swarm, and in key-value mode containers fail to join with 'cannot join secure network: encryption keys not "
                  "present': remove encrypted, or set mhnet_cluster_mode: swarm"], id="encrypted in key-value mode"),
    pytest.param([net(driver_options=dict(encrypted=""))], "kv", {}, ["encrypted: true needs swarm mode"], id="encrypted as a driver option"),
    pytest.param([net(encrypted=False, driver_options=dict(encrypted=""))], "kv", {}, [], id="encrypted: false wins"),
    pytest.param([net(encrypted=True)], "swarm", {}, [], id="encrypted in swarm mode, kernel not probed"),
    pytest.param([net(encrypted=True)], "swarm", {"mhs-demo0": dict(ipsec_supported=True), "mhs-demo1": dict(ipsec_supported=True)}, [],
                 id="encrypted in swarm mode, kernel can"),
    pytest.param([net(encrypted=True)], "swarm",
                 {"mhs-demo0": dict(ipsec_supported=False, ipsec_error="Error: Requested AEAD algorithm not found."),
                  "mhs-demo1": dict(ipsec_supported=False, ipsec_error="Error: Requested AEAD algorithm not found."),
                  "mh-keystore": dict(ipsec_supported=False, ipsec_error="not an engine")},
                 ["overlay_networks[0] 'my-net': encrypted: true needs IPsec in every engine's kernel, and the kernel of mhs-demo0 "
                  "and mhs-demo1 cannot hold the ESP state Docker adds (rfc4106(gcm(aes)); the kernel said: Error: Requested AEAD "
                  "algorithm not found.): use a kernel with ESP and AES-GCM (modules esp4 and gcm, or CONFIG_INET_ESP and "
                  "CONFIG_CRYPTO_GCM built in), or remove encrypted"], id="encrypted on a kernel without IPsec"),
    # keys
    pytest.param([dict(name="my-net", ipam_confg=[dict(subnet="10.0.9.0/24")])], "kv", {},
                 ["overlay_networks[0] 'my-net' has an unknown key 'ipam_confg' (did you mean 'ipam_config'?), which the overlay "
                  "phase would refuse after the engines changed: fix it (keys: %s)" % ", ".join(OVERLAY_KEYS)], id="a misspelt key"),
    pytest.param([dict(name="my-net", ipam_config=[dict(subnet="10.0.9.0/24", gw="10.0.9.1")])], "kv", {},
                 ["overlay_networks[0] 'my-net' ipam_config[0] has an unknown key 'gw'"], id="a misspelt pool key"),
    pytest.param(["my-net", dict(ipam_config=[dict(subnet="10.0.9.0/24")])], "kv", {},
                 ["overlay_networks[0] is 'my-net', not a mapping: give each network as a mapping with name, ipam_config, ...",
                  "overlay_networks[1] has no name: give every network a name"], id="not a mapping, no name"),
    pytest.param([dict(name="my-net", ipam_config="10.0.9.0/24")], "kv", {},
                 ["overlay_networks[0] 'my-net': ipam_config is not a list: give a list of pools, for example [{subnet: 10.0.9.0/24}]"],
                 id="pools not a list"),
    pytest.param([dict(name="my-net", ipam_config=["10.0.9.0/24"])], "kv", {},
                 ["overlay_networks[0] 'my-net' ipam_config[0] is '10.0.9.0/24', not a mapping"], id="a pool not a mapping"),
])
def test_overlay_networks_are_checked_as_one_list_against_every_engine(networks, mode, overrides, expected):
    problems, dummy = plan_for(lab(**overrides), mode=mode, workload_network="", overlay_networks=networks,
                               **(dict(keystores=[], engines=ENGINES) if mode == "swarm" else {}))
    assert len(problems) == len(expected), problems
    for problem, fragments in zip(problems, expected):
        # a problem is expected to hold one fragment, or each of a tuple of them
        assert all(fragment in problem for fragment in ((fragments,) if isinstance(fragments, str) else fragments)), problem


def test_overlay_networks_that_are_not_a_list_are_refused():
    problems, dummy = plan_for(lab(), overlay_networks=dict(name="my-net"))
    assert problems == ["overlay_networks is {'name': 'my-net'}, not a list: give a list of networks, for example "
                        "[{name: my-net, ipam_config: [{subnet: 10.0.9.0/24}]}]"]


def test_every_bad_input_is_reported_at_once_with_its_host():
    """What the lab's refusal test passes (plus a host of its own problem): every one of them in one answer."""
    networks = [net(), net("other-net", "10.0.9.128/25"), net("bridge-like", "172.17.0.0/16"), net("tiny", "10.0.11.0/24", mtu=100),
                net("secret", "10.0.12.0/24", encrypted=True), net("my net!", "10.0.13.0/24"),
                dict(name="typo", ipam_confg=[dict(subnet="10.0.14.0/24")])]
    hosts = lab(**{"mhs-demo1": dict(cluster_address="192.168.150.4", problems=["kernel 3.10 is older than 3.16: upgrade"],
                                     clock=1795860100.0, ipsec_supported=False, ipsec_error="Error: Requested type not found.")})
    problems, dummy = plan_for(hosts, overlay_networks=networks)
    assert len(problems) == 10, problems
    assert all(problem.startswith(start) for problem, start in zip(problems, [
        "mhs-demo1: kernel 3.10 is older than 3.16: upgrade",
        "the hosts advertise cluster addresses in 2 different subnets: 192.168.150.0/24: mhs-demo1",
        "the hosts' clocks are 100.0 s apart, more than mhnet_clock_skew_max (10 s)",
        "overlay_networks[6] 'typo' has an unknown key 'ipam_confg' (did you mean 'ipam_config'?)",
        "overlay_networks[5] 'my net!': 'my net!' is not a network name Docker accepts",
        "overlay_networks[1] 'other-net' subnet 10.0.9.128/25 overlaps overlay_networks[0] 'my-net'",
        "overlay_networks[2] 'bridge-like' subnet 172.17.0.0/16 overlaps on mhs-demo0 and mhs-demo1",
        "overlay_networks[3] 'tiny': mtu 100 is too small",
        "overlay_networks[4] 'secret': encrypted: true needs swarm mode",
        "overlay_networks[4] 'secret': encrypted: true needs IPsec in every engine's kernel, and the kernel of mhs-demo1 ",
    ])), problems


def load_yaml(*parts):
    with open(os.path.join(REPO, *parts)) as handle:
        return yaml.safe_load(handle)


def test_the_preflight_role_documents_the_plans_default_list():
    options = load_yaml("roles", "preflight", "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    description = " ".join(options["overlay_networks"]["description"])
    assert DEFAULT_OVERLAY_NETWORKS == [dict(name="my-net", ipam_config=[dict(subnet="10.0.9.0/24")])]
    assert "C(my-net) with subnet C(10.0.9.0/24)" in description


def expanded(plan):
    """Every connection of the cluster: what each member's connectivity check probes (its outgoing connections)."""
    addresses = dict((name, member["address"]) for name, member in plan["members"].items())
    return [entry for name in plan["members"] for entry in host_connections(name, plan["connectivity"], addresses)
            if entry["source"] == name]


def connections_of(plan):
    return sorted((entry["source"], entry["target"], "%s/%d" % (entry["protocol"], entry["port"]), entry["in_use"])
                  for entry in expanded(plan))


def test_connections_in_key_value_mode_are_engine_gossip_vxlan_and_the_store_port():
    busy = dict(TUTORIAL, **{"mh-keystore": host("mh-keystore", "192.168.151.2", listening=["tcp/22", "tcp/8500"])})
    problems, plan = plan_for(busy)
    assert problems == []
    assert connections_of(plan) == sorted([
        ("mhs-demo0", "mhs-demo1", "tcp/7946", False), ("mhs-demo0", "mhs-demo1", "udp/7946", False),
        ("mhs-demo0", "mhs-demo1", "udp/4789", False),
        ("mhs-demo1", "mhs-demo0", "tcp/7946", False), ("mhs-demo1", "mhs-demo0", "udp/7946", False),
        ("mhs-demo1", "mhs-demo0", "udp/4789", False),
        ("mhs-demo0", "mh-keystore", "tcp/8500", True), ("mhs-demo1", "mh-keystore", "tcp/8500", True),
    ])
    first = next(entry for entry in expanded(plan) if entry["source"] == "mhs-demo1" and entry["target"] == "mh-keystore")
    assert first == dict(source="mhs-demo1", source_address="192.168.151.4", target="mh-keystore", address="192.168.151.2",
                         protocol="tcp", port=8500, purpose="consul clients", in_use=True)


def test_each_host_expands_only_the_connections_of_or_to_itself():
    busy = dict(TUTORIAL, **{"mh-keystore": host("mh-keystore", "192.168.151.2", listening=["tcp/8500"])})
    dummy, plan = plan_for(busy)
    addresses = dict((name, member["address"]) for name, member in plan["members"].items())
    own = sorted((entry["source"], entry["target"], "%s/%d" % (entry["protocol"], entry["port"]), entry["in_use"])
                 for entry in host_connections("mhs-demo0", plan["connectivity"], addresses))
    assert own == sorted([
        ("mhs-demo0", "mhs-demo1", "tcp/7946", False), ("mhs-demo0", "mhs-demo1", "udp/7946", False),
        ("mhs-demo0", "mhs-demo1", "udp/4789", False), ("mhs-demo0", "mh-keystore", "tcp/8500", True),
        ("mhs-demo1", "mhs-demo0", "tcp/7946", False), ("mhs-demo1", "mhs-demo0", "udp/7946", False),
        ("mhs-demo1", "mhs-demo0", "udp/4789", False),
    ])
    # The store's host listens for both engines; the single Consul server has no peer to reach.
    assert len(host_connections("mh-keystore", plan["connectivity"], addresses)) == 2
    assert plan["connectivity"]["in_use"] == {"mh-keystore": ["tcp/8500"]}


def test_the_connectivity_a_host_carries_grows_linearly_with_the_engines():
    def swarm_of(count):
        names = ["e%03d" % index for index in range(count)]
        hosts = dict((name, host(name, "10.1.%d.%d" % (index // 250, index % 250 + 1))) for index, name in enumerate(names))
        problems, plan = plan_for(hosts, mode="swarm", keystores=(), engines=tuple(names))
        assert problems == []
        return len(str(plan["connectivity"]))

    assert swarm_of(90) < 3.3 * swarm_of(30)  # the full mesh would be 9 times larger


def test_connections_between_three_consul_servers_include_their_peer_ports():
    hosts = dict(TUTORIAL, **{"ks1": host("ks1", "192.168.151.5"), "ks2": host("ks2", "192.168.151.6")})
    problems, plan = plan_for(hosts, keystores=("mh-keystore", "ks1", "ks2"))
    assert problems == []
    between_stores = [entry for entry in connections_of(plan) if entry[0] in ("mh-keystore", "ks1", "ks2")]
    assert len(between_stores) == 3 * 2 * 3
    assert ("ks1", "ks2", "tcp/8300", False) in between_stores and ("ks2", "mh-keystore", "udp/8301", False) in between_stores


def test_connections_in_swarm_mode_reach_the_managers_port_and_no_store():
    problems, plan = plan_for(TUTORIAL, mode="swarm", engines=("mh-keystore", "mhs-demo0", "mhs-demo1"), swarm_port=12377)
    assert problems == []
    to_managers = [entry for entry in connections_of(plan) if entry[2] == "tcp/12377"]
    assert to_managers == [("mhs-demo0", "mh-keystore", "tcp/12377", False), ("mhs-demo1", "mh-keystore", "tcp/12377", False)]
    assert len(expanded(plan)) == 3 * 2 * 3 + 2
    assert plan["swarm"]["port"] == 12377


def test_a_plan_with_problems_lists_no_connections():
    problems, plan = plan_for(TUTORIAL, keystore_backend="zookeeper")
    assert problems and plan["connectivity"] == dict(rules=[], in_use={})


# Hosts leaving the cluster (mhnet_state: absent) ------------------------------------------------------------------


def leaving(hosts, *names, state="absent"):
    return dict(hosts, **dict((name, dict(hosts[name], state=state)) for name in names))


def test_a_leaving_engine_is_out_of_the_placements_and_the_connections_but_still_a_member():
    hosts = dict(TUTORIAL, **{"mhs-demo2": host("mhs-demo2", "192.168.151.5")})
    problems, plan = plan_for(leaving(hosts, "mhs-demo2"), engines=ENGINES + ("mhs-demo2",))
    assert problems == []
    assert plan["engines"] == ["mhs-demo0", "mhs-demo1"] and plan["leaving"] == ["mhs-demo2"]
    assert plan["probe_host"] == "mhs-demo1" and "mhs-demo2" in plan["members"]
    assert not [entry for entry in expanded(plan) if "mhs-demo2" in (entry["source"], entry["target"])]
    problems, plan = plan_for(leaving(hosts, "mhs-demo1"), engines=ENGINES + ("mhs-demo2",))
    assert problems == [] and plan["probe_host"] == "mhs-demo2"


def test_the_web_host_and_the_keystore_cannot_leave_and_say_what_to_move_first():
    problems, dummy = plan_for(leaving(TUTORIAL, "mhs-demo0", "mh-keystore"))
    assert problems == [
        "mhs-demo0 runs web (it is the first host of the engine group): put another engine first in that group and run "
        "site.yml, so that web moves there; then set mhnet_state: absent for mhs-demo0",
        "mh-keystore runs the keystore: it cannot leave while the engines use it; move the keystore to other hosts "
        "(the keystore group) first"]


def test_an_unknown_host_state_is_refused():
    problems, dummy = plan_for(leaving(TUTORIAL, "mhs-demo1", state="gone"))
    assert problems == ["mhs-demo1: mhnet_state is 'gone': use present or absent"]


def test_a_leaving_manager_must_leave_an_odd_number_of_managers():
    roles = dict(n1="manager", n2="manager", n3="manager")
    problems, dummy = swarm_plan(leaving(swarm_hosts(roles), "n3"))
    assert problems == ["2 swarm managers (n1, n2) cannot keep a Raft majority when one fails: use 1 or 3 managers"]
    problems, plan = swarm_plan(leaving(swarm_hosts(dict(roles, n2="worker")), "n2", "n3"))
    assert problems == [] and plan["swarm"]["managers"] == ["n1"] and plan["leaving"] == ["n2", "n3"]
    assert plan["members"]["n3"]["swarm_role"] == ""


def test_one_engine_left_has_no_probe_host():
    problems, plan = plan_for(leaving(TUTORIAL, "mhs-demo1"))
    assert problems == [] and plan["engines"] == ["mhs-demo0"] and plan["probe_host"] == ""


def with_security(hosts, **security):
    return dict((name, dict(spec, security=dict(security))) for name, spec in hosts.items())


TLS = dict(ca="/tls/ca.pem", cert="/tls/cert.pem", key="/tls/key.pem")


@pytest.mark.parametrize("backend, port, expected_port", [("consul", None, 8501), ("consul", 18501, 18501)])
def test_tls_makes_consuls_port_its_https_one_unless_the_inventory_gives_one(backend, port, expected_port):
    problems, plan = make_plan(dict(SETTINGS, keystore_backend=backend, keystore_port=port),
                               with_security(TUTORIAL, tls=TLS), KEYSTORES, ENGINES, exists=lambda path: True)
    assert problems == []
    assert (plan["keystore"]["port"], plan["keystore"]["tls"], plan["keystore"]["acl"]) == (expected_port, True, False)
    assert plan["keystore"]["url"] == "consul://192.168.151.2:%d" % expected_port
    assert plan["keystore"]["tls_files"]["mhs-demo1"] == TLS


def test_tls_with_etcd_is_refused_by_the_plan_and_keeps_etcds_port():
    problems, plan = make_plan(dict(SETTINGS, keystore_backend="etcd"), with_security(TUTORIAL, tls=TLS),
                               KEYSTORES, ENGINES, exists=lambda path: True)
    assert any(problem.startswith("TLS and ACL tokens to the keystore are supported with Consul only")
               for problem in problems)
    assert (plan["keystore"]["port"], plan["keystore"]["tls"]) == (2379, False)


def test_a_tls_file_the_controller_lacks_is_a_plan_problem():
    problems, plan = make_plan(SETTINGS, with_security(TUTORIAL, tls=TLS), KEYSTORES, ENGINES,
                               exists=lambda path: path != "/tls/key.pem")
    assert problems == ["%s: mhnet_keystore_tls.key /tls/key.pem is not a file on the controller: give the path of an "
                        "existing PEM file (relative paths are taken from the playbook's directory)" % name
                        for name in ("mh-keystore", "mhs-demo0", "mhs-demo1")]


def listed(network_id="N1", subnet="10.0.9.0/24", attachable=False, options=None, name="my-net"):
    """An overlay network as preflight reports the engine lists it."""
    return dict(Id=network_id, Name=name, Driver="overlay", Options=dict(options or {}),
                IPAM=dict(Config=[dict(Subnet=subnet, Gateway="10.0.9.1")]), Attachable=attachable, Internal=False,
                Labels={}, Scope="global")


KV_STORE = "consul://192.168.151.2:8500"


def kv_engines(demo0, demo1, store=KV_STORE):
    return lab(**dict((name, dict(engine_overlay_networks=networks, engine_cluster_store=store))
                      for name, networks in (("mhs-demo0", demo0), ("mhs-demo1", demo1))))


@pytest.mark.parametrize("demo0, demo1, store, networks, in_sync", [
    pytest.param([listed()], [listed()], KV_STORE, [net()], ["my-net"], id="every engine lists it, options as set"),
    pytest.param([listed()], [], KV_STORE, [net()], [], id="an engine does not list it"),
    pytest.param([listed()], [listed("N2")], KV_STORE, [net()], [], id="another ID on an engine (made again)"),
    pytest.param([listed(subnet="10.0.8.0/24")], [listed(subnet="10.0.8.0/24")], KV_STORE, [net()], [],
                 id="another subnet"),
    pytest.param([listed()], [listed()], KV_STORE, [net(mtu=1400)], [], id="an option the engine lacks"),
    pytest.param([listed(options={"com.docker.network.driver.mtu": "1400"})],
                 [listed(options={"com.docker.network.driver.mtu": "1400"})], KV_STORE, [net(mtu=1400)], ["my-net"],
                 id="the mtu option as set"),
    pytest.param([listed()], [listed()], "consul://192.168.151.9:8500", [net()], [],
                 id="engines that run with another store"),
    pytest.param([listed()], [listed()], KV_STORE, [net(state="absent")], [], id="an entry to remove always runs"),
    pytest.param([listed(), listed("N7", "10.0.7.0/24", name="b-net")], [listed()], KV_STORE,
                 [net(), net("b-net", "10.0.7.0/24")], ["my-net"], id="each network on its own"),
])
def test_a_network_every_viewer_lists_as_planned_is_in_sync(demo0, demo1, store, networks, in_sync):
    problems, plan = plan_for(kv_engines(demo0, demo1, store), workload_network="", overlay_networks=networks)
    assert problems == []
    assert plan["overlay"]["in_sync"] == in_sync


def test_in_swarm_mode_a_network_is_in_sync_unless_the_control_host_leaves_its_swarm():
    live = dict(member_of("", cluster="X1", manager=True, managers=["192.168.151.10:2377"]),
                engine_overlay_networks=[listed(attachable=True)])
    hosts = dict(n1=host("n1", "192.168.151.10", **live), n2=host("n2", "192.168.151.11"))
    problems, plan = plan_for(hosts, keystores=[], engines=["n1", "n2"], mode="swarm", overlay_networks=[net()])
    assert problems == [] and plan["overlay"]["viewers"] == ["n1"] and plan["swarm"]["control_leaves"] is False
    assert plan["overlay"]["in_sync"] == ["my-net"]
    live_elsewhere = dict(live)
    live_elsewhere.update(member_of("", cluster="X1", manager=False, managers=["10.9.9.9:2377"]))
    hosts["n1"] = host("n1", "192.168.151.10", force_rejoin=True, **live_elsewhere)
    problems, plan = plan_for(hosts, keystores=[], engines=["n1", "n2"], mode="swarm", overlay_networks=[net()])
    assert problems == [] and plan["swarm"]["control_leaves"] is True
    assert plan["overlay"]["in_sync"] == []


# Issue 17 case 3: an image a phase would run that the host lacks and nothing will load.
LAB_IMAGES = ["busybox:latest", "hashicorp/consul:1.8.7", "nginx:stable"]


def image_hosts(images=(), mode="kv", **per_host):
    """The tutorial's hosts with engines that answer and hold `images`; per_host: {name: images input}."""
    hosts = copy.deepcopy(TUTORIAL)
    for name, entry in hosts.items():
        entry["facts"].update(engine_reachable=True, engine_images=list(images))
        entry["images"] = per_host.get(name.replace("-", "_"), dict(source="archive", listed=[], values={}))
    return hosts


def test_an_image_no_engine_has_and_no_images_list_entry_names_is_refused_naming_host_and_variable():
    hosts = image_hosts(LAB_IMAGES, mhs_demo0=dict(source="archive", listed=list(LAB_IMAGES), values=dict(workload_web_image="nosuch:1")))
    problems, dummy = plan_for(hosts)
    assert problems == ["mhs-demo0: workload_web_image is nosuch:1, which the host's engine does not have and no images_list "
                        "entry names (images_source archive: nothing will load it): add it to images_list with its archive, "
                        "load it on the host, or set workload_web_image to an image the host has"]


@pytest.mark.parametrize("values, variable", [
    (dict(), "keystore_images.consul"),
    (dict(keystore_image="nosuch:1"), "keystore_image"),
])
def test_the_keystore_image_is_checked_on_the_keystore_host(values, variable):
    present = ["busybox:latest", "nginx:stable"] + (["hashicorp/consul:1.8.7"] if values else [])
    hosts = image_hosts(present, mh_keystore=dict(source="archive", listed=[], values=values))
    problems, dummy = plan_for(hosts)
    assert len(problems) == 1 and problems[0].startswith("mh-keystore: %s is " % variable), problems


def test_images_on_the_engine_or_in_images_list_pass_and_each_host_is_checked_for_its_own_phases():
    # The probe host runs busybox only: no nginx there; web runs nginx, which images_list names (the images phase
    # loads it); Docker Hub's long form and a name without a tag are the engine's short tags.
    hosts = image_hosts(["busybox:latest"], mhs_demo0=dict(source="archive", listed=["docker.io/library/nginx:stable", "busybox"], values={}))
    hosts["mh-keystore"]["facts"]["engine_images"] = ["hashicorp/consul:1.8.7"]
    assert plan_for(hosts)[0] == []


def test_with_images_source_pull_the_phase_pulls_what_the_engine_lacks():
    hosts = image_hosts([], **dict((name, dict(source="pull", listed=[], values={})) for name in ("mh_keystore", "mhs_demo0", "mhs_demo1")))
    assert plan_for(hosts)[0] == []


def test_only_the_phases_the_run_runs_are_checked():
    hosts = image_hosts([])
    assert len(plan_for(hosts)[0]) == 3  # consul on the keystore host, nginx on web, busybox on the probe host
    assert [problem.split(":")[1] for problem in plan_for(hosts, image_phases=["workload"])[0]] == [
        " workload_web_image is nginx", " workload_probe_image is busybox"]
    assert plan_for(hosts, image_phases=[])[0] == []


def test_the_stacks_images_are_checked_in_swarm_mode():
    hosts = image_hosts(["nginx:stable", "busybox:latest"], mhs_demo1=dict(source="archive", listed=[], values=dict(stack_probe_image="nosuch:2")))
    del hosts["mh-keystore"]
    problems, dummy = plan_for(hosts, keystores=[], mode="swarm")
    assert problems == ["mhs-demo1: stack_probe_image is nosuch:2, which the host's engine does not have and no images_list "
                        "entry names (images_source archive: nothing will load it): add it to images_list with its archive, "
                        "load it on the host, or set stack_probe_image to an image the host has"]


def test_the_plans_image_defaults_are_the_roles_defaults():
    assert load_yaml("roles", "keystore", "defaults", "main.yml")["keystore_images"] == KEYSTORE_IMAGES
    for variable, image in PHASE_IMAGES.items():
        assert load_yaml("roles", variable.split("_", maxsplit=1)[0], "defaults", "main.yml")[variable] == image
