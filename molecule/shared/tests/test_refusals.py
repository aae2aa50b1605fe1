"""On blank hosts: check mode changes nothing and shows the daemon.json diff; bad input stops in preflight,
naming the hosts, before any host changes."""

import json
import shlex

import pytest
import yaml


@pytest.fixture()
def unchanged(lab_snapshot, reliability):
    """Fails the test if any host changed while it ran (and says so in the reliability table)."""
    before = lab_snapshot()
    yield
    after = lab_snapshot()
    reliability.expected = reliability.expected or "as the case says; no host changes"
    reliability.unchanged = "yes" if after == before else "no"
    assert after == before


# The reliability table (issue 9, molecule/shared/tests/reliability_table.py): every test here is a row; what it
# expects is its reliability marker's, else a refusal before any change; what it observed is its last run's result.
@pytest.fixture(autouse=True)
def _reliability_expected(reliability):
    reliability.expected = reliability.expected or "refused in preflight, naming the host(s); nothing changed"


@pytest.mark.reliability("check mode succeeds, shows the daemon.json diff with the user's key kept; nothing changed")
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


# Issue 17 case 3: the lab loads its images from archives (images_source: archive); an image no archive holds would
# have failed in its own phase, after the keystore, the engine restarts and my-net.
@pytest.mark.parametrize("extra, host, variable", [
    ("workload_web_image=nosuch:1", "mhs-demo0", "workload_web_image"),
    ('{"keystore_images": {"consul": "nosuch:1", "etcd": "nosuch:2"}}', "mh-keystore", "keystore_images.consul"),
], ids=["web image", "keystore image"])
def test_an_image_that_exists_nowhere_is_refused_in_preflight_naming_its_variable(run_site, unchanged, extra, host, variable):
    rc, output = run_site("-e", extra)
    assert rc != 0
    assert "preflight found 1 problem(s); nothing was changed" in output, output[-3000:]
    assert "%s: %s is nosuch:1, which the host's engine does not have and no images_list entry names" % (host, variable) in output


def test_zookeeper_as_cluster_store_is_refused_in_preflight(run_site, unchanged):
    rc, output = run_site("-e", "mhnet_keystore_backend=zookeeper")
    assert rc != 0
    assert "ZooKeeper cannot hold overlay networks" in output, output[-3000:]
    assert "moby/libnetwork/issues/2006" in output and "set mhnet_keystore_backend: consul or etcd" in output


def test_a_swarm_role_in_key_value_mode_is_refused_in_preflight(run_site, unchanged):
    rc, output = run_site("-e", "mhnet_swarm_role=manager")
    assert rc != 0
    assert "mhs-demo0: mhnet_swarm_role is set but the cluster runs in key-value mode" in output, output[-3000:]


# Every mistake in overlay_networks that used to pass preflight (caught one entry at a time after Consul started and
# the engines restarted, or not at all): the plan must name each of them in the one failure.
BAD_NETWORKS = dict(overlay_networks=[
    dict(name="my-net", ipam_config=[dict(subnet="10.0.9.0/24")]),
    dict(name="other-net", ipam_config=[dict(subnet="10.0.9.128/25")]),
    dict(name="on-docker0", ipam_config=[dict(subnet="172.17.0.0/16")]),
    dict(name="tiny-mtu", ipam_config=[dict(subnet="10.0.11.0/24")], mtu=100),
    dict(name="secret-net", ipam_config=[dict(subnet="10.0.12.0/24")], encrypted=True),
    dict(name="my net!", ipam_config=[dict(subnet="10.0.13.0/24")]),
    dict(name="typo-net", ipam_confg=[dict(subnet="10.0.14.0/24")]),
    # docker_gwbridge's range on a blank host (172.18.0.0/16): refused whether the engines made it yet or will
    dict(name="on-gwbridge", ipam_config=[dict(subnet="172.18.0.0/16")]),
])


def problems_in(output):
    """The problems of the plan's one failure: the `problems` list of its `fatal:` line (ansible-core also prints the
    message as an [ERROR] block)."""
    failures = [line.split(" => ", 1)[1] for line in output.splitlines()
                if line.startswith("fatal: [") and "problem(s); nothing was changed" in line]
    assert len(failures) == 1, output[-3000:]
    return json.loads(failures[0])["problems"]


def test_every_bad_overlay_network_is_named_in_one_failure_before_any_change(run_site, unchanged, tmp_path):
    extra = tmp_path / "networks.yml"
    extra.write_text(yaml.safe_dump(BAD_NETWORKS))
    rc, output = run_site("-e", "@%s" % extra)
    assert rc != 0
    problems = problems_in(output)

    def problem(*fragments):
        found = [item for item in problems if all(fragment in item for fragment in fragments)]
        assert found, "no problem holds %s in: %s" % (fragments, output[-4000:])

    problem("overlay_networks[1] 'other-net' subnet 10.0.9.128/25 overlaps overlay_networks[0] 'my-net' subnet 10.0.9.0/24")
    problem("overlay_networks[2] 'on-docker0' subnet 172.17.0.0/16 overlaps", "mhs-demo0", "mhs-demo1", "network 'bridge' (172.17.0.0/16)")
    problem("overlay_networks[3] 'tiny-mtu': mtu 100 is too small", "give at least 118")
    problem("overlay_networks[4] 'secret-net': encrypted: true needs swarm mode")
    problem("overlay_networks[5] 'my net!': 'my net!' is not a network name Docker accepts", "rename it, for example 'my-net'")
    problem("overlay_networks[6] 'typo-net' has an unknown key 'ipam_confg' (did you mean 'ipam_config'?)")
    problem("overlay_networks[7] 'on-gwbridge' subnet 172.18.0.0/16 overlaps", "mhs-demo0", "mhs-demo1", "docker_gwbridge")


@pytest.mark.reliability("swarm mode, my-net encrypted by its driver option only: refused in preflight, the IPsec probe "
                         "naming both engines' kernels; nothing changed")
def test_encryption_asked_by_the_driver_option_is_refused_on_a_kernel_without_ipsec(run_site, unchanged, tmp_path):
    extra = tmp_path / "encrypted.yml"
    extra.write_text(yaml.safe_dump(dict(mhnet_cluster_mode="swarm", overlay_networks=[
        dict(name="my-net", ipam_config=[dict(subnet="10.0.9.0/24")], driver_options=dict(encrypted=""))])))
    rc, output = run_site("-e", "@%s" % extra)
    assert rc != 0
    expected = "overlay_networks[0] 'my-net': encrypted: true needs IPsec in every engine's kernel"
    found = [item for item in problems_in(output) if item.startswith(expected)]
    assert found and "mhs-demo0 and mhs-demo1" in found[0], output[-4000:]


def test_a_host_advertising_its_management_address_is_refused_in_preflight(run_site, unchanged, lab_vars, tmp_path):
    # As a host whose default route is on the management network would, with no mhnet_cluster_address for it.
    addresses = dict((name, host["mhnet_cluster_address"]) for name, host in lab_vars.items() if host.get("mhnet_cluster_address"))
    addresses["mhs-demo1"] = lab_vars["mhs-demo1"]["lab_management_address"]
    extra = tmp_path / "addresses.yml"
    extra.write_text(yaml.safe_dump(dict(test_cluster_addresses=addresses,
                                         mhnet_cluster_address="{{ test_cluster_addresses[inventory_hostname] }}")))
    rc, output = run_site("-e", "@%s" % extra)
    assert rc != 0
    problem = [item for item in problems_in(output) if "advertise cluster addresses in 2 different subnets" in item]
    assert problem, output[-3000:]
    assert "mhs-demo1 %s (" % addresses["mhs-demo1"] in problem[0]
    assert "mhs-demo0 %s (" % addresses["mhs-demo0"] in problem[0] and "mh-keystore %s (" % addresses["mh-keystore"] in problem[0]
    assert "set mhnet_cluster_address (or mhnet_cluster_interface) for the hosts outside it" in problem[0]


# Issue 17: one row per bad input (make reliability counts them). Each is given with -e (a file of extra vars), and
# each must stop the run before any host changes, with the words that say what is wrong, where and what to do.
MY_NET = dict(name="my-net", ipam_config=[dict(subnet="10.0.9.0/24")])
TLS_NOWHERE = dict(ca="/nonexistent/ca.pem", cert="/nonexistent/cert.pem", key="/nonexistent/key.pem")
ENGINE_TOKEN = "5e6e2b3c-6d43-4d2c-9d1a-0c3f0e0d4e11"
BAD_INPUTS = [
    pytest.param(dict(mhnet_keystore_port=70000), ["mhnet_keystore_port is 70000, not a TCP port (1-65535)"], id="store port 70000"),
    pytest.param(dict(mhnet_keystore_port=0), ["mhnet_keystore_port is 0, not a TCP port"], id="store port 0"),
    pytest.param(dict(mhnet_keystore_port=7946), ["mhnet_keystore_port is 7946, the port of engine gossip"], id="store port on gossip"),
    pytest.param(dict(engine_advertise_port=70000), ["mhs-demo0: engine_advertise_port is 70000, not a TCP port"], id="advertise port 70000"),
    pytest.param(dict(mhnet_cluster_mode="swarm", mhnet_swarm_port=70000), ["mhnet_swarm_port is 70000, not a TCP port"],
                 id="swarm port 70000"),
    pytest.param(dict(mhnet_cluster_address="fd00::5"), ["mhnet_cluster_address fd00::5 is an IPv6 address: the collection builds IPv4"],
                 id="IPv6 cluster address"),
    pytest.param(dict(mhnet_cluster_address="10.9.9.9"), ["no interface holds the cluster address 10.9.9.9"], id="address on no interface"),
    # The lab's inventory gives each host its address: '' leaves it out, as an inventory that names only the interface.
    pytest.param(dict(mhnet_cluster_address="", mhnet_cluster_interface="eth7"), ["interface eth7 has no IPv4 address or does not exist"],
                 id="interface missing"),
    pytest.param(dict(mhnet_cluster_interface="eth7"), ["mhs-demo0: the cluster address 192.168.161.3 is on ", "not on mhnet_cluster_interface eth7"],
                 id="address and interface disagreeing"),
    pytest.param(dict(mhnet_cluster_mode="bogus"), ["mhnet_cluster_mode must be one of: kv, swarm, got: bogus"], id="unknown mode"),
    pytest.param(dict(mhnet_keystore_backend="redis"), ["mhnet_keystore_backend must be one of", "got: redis"], id="unknown store"),
    pytest.param(dict(overlay_networks=[]), ["on network 'my-net' (workload_network), which overlay_networks does not create (it creates: none)"],
                 id="no overlay network"),
    pytest.param(dict(overlay_networks=[dict(name="app-net", ipam_config=[dict(subnet="10.0.20.0/24")])]),
                 ["which overlay_networks does not create (it creates: app-net)"], id="only another network"),
    pytest.param(dict(overlay_networks=[MY_NET, dict(name="n" * 256, ipam_config=[dict(subnet="10.0.21.0/24")])]),
                 ["is 256 characters long, more than the 255 Docker accepts for a network name in key-value mode", "shorten it"],
                 id="network name too long"),
    pytest.param(dict(overlay_networks=[MY_NET, dict(name="my net!", ipam_config=[dict(subnet="10.0.22.0/24")])]),
                 ["'my net!' is not a network name Docker accepts"], id="network name Docker refuses"),
    pytest.param(dict(overlay_networks=[MY_NET, dict(MY_NET, ipam_config=[dict(subnet="10.0.23.0/24")])]),
                 ["network 'my-net' is given 2 times in overlay_networks"], id="network given twice"),
    pytest.param(dict(overlay_networks=[MY_NET, dict(name="typo-net", ipam_confg=[dict(subnet="10.0.24.0/24")])]),
                 ["has an unknown key 'ipam_confg' (did you mean 'ipam_config'?)"], id="unknown network key"),
    pytest.param(dict(overlay_networks=[MY_NET, dict(name="half-net", ipam_config=[dict(subnet="10.0.9.128/25")])]),
                 ["subnet 10.0.9.128/25 overlaps overlay_networks[0] 'my-net' subnet 10.0.9.0/24"], id="subnets overlapping"),
    pytest.param(dict(overlay_networks=[dict(name="my-net", ipam_config=[dict(subnet="10.0.9.0/33")])]),
                 ["10.0.9.0/33"], id="subnet not CIDR"),
    pytest.param(dict(overlay_networks=[dict(name="my-net", ipam_config=[dict(subnet="172.17.0.0/16")])]),
                 ["subnet 172.17.0.0/16 overlaps", "network 'bridge' (172.17.0.0/16)"], id="subnet on docker0"),
    pytest.param(dict(overlay_networks=[dict(name="my-net", ipam_config=[dict(subnet="172.18.0.0/16")])]),
                 ["subnet 172.18.0.0/16 overlaps", "docker_gwbridge"], id="subnet of docker_gwbridge to come"),
    pytest.param(dict(overlay_networks=[dict(name="my-net", ipam_config=[dict(subnet="192.168.161.0/24")])]),
                 ["subnet 192.168.161.0/24 overlaps"], id="subnet on the cluster network"),
    pytest.param(dict(overlay_networks=[dict(MY_NET, mtu=100)]), ["mtu 100 is too small", "give at least 118"], id="mtu too small"),
    pytest.param(dict(overlay_networks=[dict(MY_NET, encrypted=True)]), ["encrypted: true needs swarm mode"], id="encryption in kv mode"),
    pytest.param(dict(workload_probe_image="nosuch:2"), ["mhs-demo1: workload_probe_image is nosuch:2, which the host's engine does not have"],
                 id="probe image nowhere"),
    pytest.param(dict(mhnet_cluster_mode="swarm", stack_web_image="nosuch:3"),
                 ["mhs-demo0: stack_web_image is nosuch:3, which the host's engine does not have"], id="stack image nowhere"),
    pytest.param(dict(mhnet_state="{{ 'absent' if inventory_hostname == 'mhs-demo0' else 'present' }}"),
                 ["mhs-demo0 runs web (it is the first host of the engine group)"], id="shrinking the web host"),
    # -e gives the keystore host the role too: named as a host outside the engine group.
    pytest.param(dict(mhnet_cluster_mode="swarm", mhnet_swarm_role="manager"),
                 ["2 swarm managers (mhs-demo0, mhs-demo1) cannot keep a Raft majority"], id="two swarm managers"),
    pytest.param(dict(mhnet_cluster_mode="swarm", mhnet_swarm_role="boss"), ["mhnet_swarm_role must be one of", "got: boss"],
                 id="unknown swarm role"),
    pytest.param(dict(mhnet_keystore_tls=TLS_NOWHERE), ["mhnet_keystore_tls.ca /nonexistent/ca.pem is not a file on the controller"],
                 id="TLS files missing"),
    pytest.param(dict(mhnet_keystore_tls=dict(ca="/etc/hostname")), ["mhnet_keystore_tls has ca but no"], id="TLS incomplete"),
    pytest.param(dict(mhnet_keystore_backend="etcd", mhnet_keystore_tls=TLS_NOWHERE),
                 ["TLS and ACL tokens to the keystore are supported with Consul only"], id="TLS with etcd"),
    pytest.param(dict(keystore_acl_master_token="0b1c7c5e-3f4a-4d2b-8e9f-1a2b3c4d5e6f", keystore_acl_engine_token=ENGINE_TOKEN,
                      engine_keystore_token=ENGINE_TOKEN), ["keystore_acl_master_token is set without mhnet_keystore_tls"],
                 id="ACL without TLS"),
]


@pytest.mark.parametrize("extra, fragments", BAD_INPUTS)
def test_a_bad_input_is_refused_before_any_change(run_site, unchanged, tmp_path, extra, fragments):
    path = tmp_path / "extra.yml"
    path.write_text(yaml.safe_dump(extra))
    rc, output = run_site("-e", "@%s" % path)
    assert rc != 0, output[-3000:]
    for fragment in fragments:
        assert fragment in output, "%r not in: %s" % (fragment, output[-3000:])
    assert "PLAY [Keystore" not in output, "the run went past preflight"


# A daemon.json the user wrote on one engine (the collection merges into it, so it must be one it can start).
BAD_DAEMON_JSON = [
    pytest.param('{"hosts": ["unix:///var/run/docker.sock"]}', {},
                 ["mhs-demo0: daemon.json sets 'hosts', which docker.service also gives dockerd as -H"], id="daemon.json key clashing with a flag"),
    pytest.param('{"labels": [', {}, ["/etc/docker/daemon.json is not valid JSON"], id="daemon.json not JSON"),
    pytest.param('{"bip": "10.0.9.1/24"}', {}, ["subnet 10.0.9.0/24 overlaps", "daemon.json's bip, which the engine applies when it restarts"],
                 id="daemon.json bip not applied yet"),
    pytest.param('{"cluster-store": "consul://192.168.161.2:8500"}', dict(mhnet_cluster_mode="swarm"),
                 ["still sets cluster-store"], id="daemon.json cluster-store in swarm mode"),
]


@pytest.mark.parametrize("content, extra, fragments", BAD_DAEMON_JSON)
def test_a_daemon_json_the_collection_cannot_build_on_is_refused_before_any_change(lab_hosts, run_site, unchanged, tmp_path,
                                                                                   content, extra, fragments):
    host = lab_hosts["mhs-demo0"]
    path = tmp_path / "extra.yml"
    path.write_text(yaml.safe_dump(extra))
    host.check_output("cp -p /etc/docker/daemon.json /root/daemon.json.before-test")
    try:
        host.check_output("printf '%%s' %s > /etc/docker/daemon.json" % shlex.quote(content))
        rc, output = run_site("-e", "@%s" % path)
    finally:
        host.check_output("mv /root/daemon.json.before-test /etc/docker/daemon.json")
    assert rc != 0, output[-3000:]
    for fragment in fragments:
        assert fragment in output, "%r not in: %s" % (fragment, output[-3000:])
    assert "PLAY [Keystore" not in output, "the run went past preflight"
