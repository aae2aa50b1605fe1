"""Subnet checks, overlap search and network comparison: pure helpers, tested as tables."""

import ipaddress

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError
from ansible_collections.mhnet.cluster.plugins.module_utils._networks import (
    NetworkConflictError,
    NetworkSpecError,
    as_engine_networks,
    desired_state,
    find_overlaps,
    network_differences,
    network_subnets,
    network_summary,
    overlay_network_states,
    parse_subnet,
    read_routes,
    upcoming_networks,
)

ENGINE_NETWORKS = [
    {"Name": "bridge", "Id": "b1", "IPAM": {"Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]}},
    {"Name": "docker_gwbridge", "Id": "g1", "IPAM": {"Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]}},
    {"Name": "host", "Id": "h1", "IPAM": {"Config": []}},
    {"Name": "none", "Id": "n1", "IPAM": None},
    {"Name": "v6", "Id": "v1", "IPAM": {"Config": [{"Subnet": "fd00:1::/64"}, {"Subnet": "not-a-cidr"}]}},
    {"Name": "app", "Id": "a1", "IPAM": {"Config": [{"Subnet": "10.0.9.0/24", "Gateway": "10.0.9.1"}]}},
]
ROUTES = [("192.168.151.0/24", "eth1"), ("0.0.0.0/0", "eth0"), ("fe80::/64", "eth0")]

ROUTE_TABLE = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
    "eth0\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
    "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
    "eth1\t0097A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
)


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("10.0.9.0/24", "10.0.9.0/24", id="IPv4 network"),
        pytest.param("10.0.9.7/32", "10.0.9.7/32", id="single address"),
        pytest.param("fd00:9::/64", "fd00:9::/64", id="IPv6 network"),
    ],
)
def test_parse_subnet_accepts_networks(text, expected):
    assert parse_subnet(text) == ipaddress.ip_network(expected)


@pytest.mark.parametrize(
    "text, fragment",
    [
        pytest.param("10.0.9.1/24", "has host bits set", id="host bits set"),
        pytest.param("ten.zero/24", "does not appear to be", id="garbage"),
        pytest.param("10.0.9.0/33", "10.0.9.0/33", id="prefix too long"),
        pytest.param(None, "None", id="missing"),
    ],
)
def test_parse_subnet_refuses_anything_else_and_says_how_to_write_it(text, fragment):
    with pytest.raises(NetworkSpecError) as error:
        parse_subnet(text)
    message = str(error.value)
    assert message.startswith("subnet '%s' is not a valid CIDR network" % text)
    assert fragment in message
    assert "write it as NETWORK/PREFIX, for example 10.0.9.0/24" in message


@pytest.mark.parametrize(
    "subnet, exclude, expected",
    [
        pytest.param("172.17.0.0/16", None, ["network 'bridge' (172.17.0.0/16)"], id="docker0's bridge network"),
        pytest.param("172.18.5.0/24", None, ["network 'docker_gwbridge' (172.18.0.0/16)"], id="inside docker_gwbridge"),
        pytest.param("192.168.151.128/25", None, ["route 192.168.151.0/24 on eth1"], id="a host route"),
        pytest.param("10.0.10.0/24", None, [], id="no overlap; the default route does not count"),
        pytest.param("10.0.9.0/24", "app", [], id="the managed network itself is skipped"),
        pytest.param(
            "10.0.0.0/8", None, ["network 'app' (10.0.9.0/24)"], id="a supernet overlaps the networks inside it"
        ),
        pytest.param("fd00:1::/48", None, ["network 'v6' (fd00:1::/64)"], id="IPv6 only against IPv6"),
    ],
)
def test_find_overlaps(subnet, exclude, expected):
    assert find_overlaps(ipaddress.ip_network(subnet), ENGINE_NETWORKS, ROUTES, exclude_name=exclude) == expected


def test_read_routes_decodes_the_kernel_table_without_the_default_route(tmp_path):
    table = tmp_path / "route"
    table.write_text(ROUTE_TABLE)
    assert read_routes(str(table)) == [("192.168.0.0/24", "eth0"), ("172.17.0.0/16", "docker0"), ("192.168.151.0/24", "eth1")]


@pytest.mark.parametrize(
    "params, expected",
    [
        pytest.param({}, {"driver": "overlay"}, id="nothing set: only the driver"),
        pytest.param(
            {"encrypted": True, "mtu": 1400, "driver_options": {"com.docker.network.driver.overlay.vxlanid_list": 4097}},
            {
                "driver": "overlay",
                "options": {"encrypted": "", "com.docker.network.driver.mtu": "1400", "com.docker.network.driver.overlay.vxlanid_list": "4097"},
            },
            id="mtu and encrypted become driver options",
        ),
        pytest.param({"encrypted": False}, {"driver": "overlay", "options": {"encrypted": None}}, id="encrypted false: option must be absent"),
        pytest.param(
            {"ipam_config": [{"subnet": "10.0.9.0/24", "gateway": "10.0.9.1", "ip_range": "10.0.9.128/25"}, {"subnet": "10.0.8.0/24"}]},
            {
                "driver": "overlay",
                "ipam_config": [{"subnet": "10.0.8.0/24"}, {"subnet": "10.0.9.0/24", "gateway": "10.0.9.1", "ip_range": "10.0.9.128/25"}],
            },
            id="ipam pools, sorted, only keys given",
        ),
        pytest.param(
            {"attachable": False, "internal": True, "labels": {"tier": "app"}, "scope": "swarm"},
            {"driver": "overlay", "attachable": False, "internal": True, "labels": {"tier": "app"}, "scope": "swarm"},
            id="flags, labels and scope",
        ),
    ],
)
def test_desired_state_holds_only_what_the_user_set(params, expected):
    full = dict(driver="overlay", driver_options=None, ipam_config=None, attachable=None, internal=None, labels=None, mtu=None, encrypted=None, scope=None)
    full.update(params)
    assert desired_state(full) == expected


@pytest.mark.parametrize(
    "ipam_config, fragment",
    [
        pytest.param([{"subnet": "10.0.9.1/24"}], "ipam_config[0].subnet '10.0.9.1/24' is not a valid CIDR network", id="host bits set"),
        pytest.param(
            [{"subnet": "10.0.9.0/24", "gateway": "10.0.8.1"}], "ipam_config[0].gateway 10.0.8.1 is not inside subnet 10.0.9.0/24", id="gateway outside"
        ),
        pytest.param([{"subnet": "10.0.9.0/24", "gateway": "gw"}], "ipam_config[0].gateway 'gw' is not an IP address", id="gateway garbage"),
        pytest.param(
            [{"subnet": "10.0.9.0/24"}, {"subnet": "10.0.8.0/24", "ip_range": "10.0.0.0/16"}],
            "ipam_config[1].ip_range 10.0.0.0/16 is not inside subnet 10.0.8.0/24",
            id="ip_range larger than subnet",
        ),
        pytest.param(
            [{"subnet": "10.0.9.0/24", "ip_range": "fd00::/64"}], "ip_range fd00::/64 is not inside subnet 10.0.9.0/24", id="ip_range of another family"
        ),
    ],
)
def test_desired_state_refuses_bad_addresses(ipam_config, fragment):
    with pytest.raises(NetworkSpecError) as error:
        desired_state({"ipam_config": ipam_config})
    assert fragment in str(error.value)


def inspected(**changes):
    """An inspect_network() result of an encrypted, attachable overlay network."""
    network = {
        "Name": "app",
        "Id": "a1",
        "Driver": "overlay",
        "Scope": "swarm",
        "Attachable": True,
        "Internal": False,
        "Options": {"encrypted": "", "com.docker.network.driver.overlay.vxlanid_list": "4097"},
        "Labels": {"tier": "app", "owner": "ops"},
        "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.0.8.0/24", "Gateway": "10.0.8.1"}, {"Subnet": "10.0.9.0/24", "Gateway": "10.0.9.1"}]},
        "Containers": {},
    }
    network.update(changes)
    return network


@pytest.mark.parametrize(
    "desired, actual, expected",
    [
        pytest.param({"driver": "overlay"}, inspected(), [], id="unset options are don't care"),
        pytest.param({"driver": "overlay", "labels": {"tier": "app"}}, inspected(), [], id="extra labels are fine"),
        pytest.param(
            {"driver": "overlay", "ipam_config": [{"subnet": "10.0.9.0/24"}, {"subnet": "10.0.8.0/24", "gateway": "10.0.8.1"}]},
            inspected(),
            [],
            id="same pools in another order, engine-chosen gateway",
        ),
        pytest.param(
            {"driver": "overlay", "ipam_config": [{"subnet": "10.0.9.0/24"}, {"subnet": "10.0.7.0/24"}]},
            inspected(),
            [
                {
                    "parameter": "ipam_config",
                    "before": [{"subnet": "10.0.8.0/24", "gateway": "10.0.8.1"}, {"subnet": "10.0.9.0/24"}],
                    "after": [{"subnet": "10.0.7.0/24"}, {"subnet": "10.0.9.0/24"}],
                }
            ],
            id="changed subnet",
        ),
        pytest.param(
            {"driver": "overlay", "attachable": False},
            inspected(),
            [{"parameter": "attachable", "before": True, "after": False}],
            id="changed attachable",
        ),
        pytest.param(
            {"driver": "overlay", "options": {"com.docker.network.driver.mtu": "1400", "encrypted": ""}},
            inspected(),
            [{"parameter": "options.com.docker.network.driver.mtu", "before": None, "after": "1400"}],
            id="mtu wanted, encrypted already",
        ),
        pytest.param(
            {"driver": "overlay", "options": {"encrypted": None}},
            inspected(),
            [{"parameter": "options.encrypted", "before": "", "after": None}],
            id="encrypted false on an encrypted network",
        ),
        pytest.param(
            {"driver": "overlay", "labels": {"tier": "db"}, "scope": "global"},
            inspected(Labels=None),
            [{"parameter": "labels.tier", "before": None, "after": "db"}, {"parameter": "scope", "before": "swarm", "after": "global"}],
            id="missing label and other scope",
        ),
        pytest.param(
            {"driver": "bridge", "internal": True},
            inspected(),
            [{"parameter": "driver", "before": "overlay", "after": "bridge"}, {"parameter": "internal", "before": False, "after": True}],
            id="driver and internal",
        ),
    ],
)
def test_network_differences(desired, actual, expected):
    assert network_differences(desired, actual) == expected


def test_network_summary_without_desired_shows_the_whole_network():
    summary = network_summary(inspected())
    assert summary["labels"] == {"tier": "app", "owner": "ops"}
    assert summary["ipam_config"] == [{"subnet": "10.0.8.0/24", "gateway": "10.0.8.1"}, {"subnet": "10.0.9.0/24", "gateway": "10.0.9.1"}]
    assert summary["scope"] == "swarm"


@pytest.mark.parametrize("error", [NetworkSpecError, NetworkConflictError])
def test_network_errors_are_mhnet_errors(error):
    # overlay_network's main() catches MhnetError only
    assert issubclass(error, MhnetError)


def test_network_subnets_keep_what_find_overlaps_reads():
    summaries = network_subnets(ENGINE_NETWORKS)
    assert summaries == [dict(name="bridge", subnets=["172.17.0.0/16"]), dict(name="docker_gwbridge", subnets=["172.18.0.0/16"]),
                         dict(name="host", subnets=[]), dict(name="none", subnets=[]),
                         dict(name="v6", subnets=["fd00:1::/64", "not-a-cidr"]), dict(name="app", subnets=["10.0.9.0/24"])]
    for subnet in ("172.17.0.0/16", "172.18.5.0/24", "10.0.0.0/8", "fd00:1::/48", "10.0.10.0/24"):
        network = ipaddress.ip_network(subnet)
        assert find_overlaps(network, as_engine_networks(summaries), ROUTES) == find_overlaps(network, ENGINE_NETWORKS, ROUTES)


@pytest.mark.parametrize("mtu, refused", [(117, True), (118, False), (1500, False)])
def test_an_mtu_whose_vxlan_interface_linux_would_refuse_is_refused(mtu, refused):
    # The overlay driver gives the VXLAN interface the network's MTU less 50; Linux refuses less than 68.
    if refused:
        with pytest.raises(NetworkSpecError, match="mtu %d is too small" % mtu):
            desired_state(dict(mtu=mtu))
    else:
        assert desired_state(dict(mtu=mtu))["options"]["com.docker.network.driver.mtu"] == str(mtu)


def test_overlay_network_states_keep_what_the_comparison_reads_of_overlay_networks_only():
    listed = [
        dict(Id="B", Name="bridge", Driver="bridge", IPAM=dict(Config=[dict(Subnet="172.17.0.0/16")])),
        dict(Id="N1", Name="my-net", Driver="overlay", Scope="swarm", Attachable=True, Internal=False, Labels=None,
             Options={"com.docker.network.driver.overlay.vxlanid_list": "4097"}, Created="2026-12-07T10:00:00Z",
             IPAM=dict(Driver="default", Options=None, Config=[dict(Subnet="10.0.9.0/24", Gateway="10.0.9.1")])),
    ]
    states = overlay_network_states(listed)
    assert states == [dict(Id="N1", Name="my-net", Driver="overlay", Scope="swarm", Attachable=True, Internal=False,
                           Labels={}, Options={"com.docker.network.driver.overlay.vxlanid_list": "4097"},
                           IPAM=dict(Config=[dict(Subnet="10.0.9.0/24", Gateway="10.0.9.1")]))]
    assert network_differences(desired_state(dict(ipam_config=[dict(subnet="10.0.9.0/24")], attachable=True)), states[0]) == []


BLANK = [dict(name="bridge", subnets=["172.17.0.0/16"]), dict(name="host", subnets=[]), dict(name="none", subnets=[])]
LAB_ROUTES = [("192.168.151.0/24", "eth1"), ("172.17.0.0/16", "docker0")]
GWBRIDGE_WHY = "which Docker makes with the first container on an overlay network"


@pytest.mark.parametrize("config, networks, routes, expected", [
    pytest.param({}, BLANK, LAB_ROUTES, [("docker_gwbridge", "172.18.0.0/16", GWBRIDGE_WHY)], id="blank host: the next free /16"),
    pytest.param({}, BLANK + [dict(name="docker_gwbridge", subnets=["172.18.0.0/16"])], LAB_ROUTES, [], id="gwbridge made"),
    pytest.param({}, BLANK + [dict(name="app", subnets=["172.18.0.0/16"])], LAB_ROUTES + [("172.19.0.0/16", "br-x")],
                 [("docker_gwbridge", "172.20.0.0/16", GWBRIDGE_WHY)], id="networks and routes taken are skipped"),
    pytest.param({"bip": "10.0.9.1/24"}, BLANK, LAB_ROUTES,
                 [("docker0", "10.0.9.0/24", "daemon.json's bip, which the engine applies when it restarts"),
                  ("docker_gwbridge", "172.18.0.0/16", GWBRIDGE_WHY)], id="a bip not applied yet"),
    pytest.param({"bip": "172.17.0.1/16"}, BLANK, LAB_ROUTES, [("docker_gwbridge", "172.18.0.0/16", GWBRIDGE_WHY)],
                 id="a bip the engine runs with"),
    pytest.param({"default-address-pools": [{"base": "10.20.0.0/16", "size": 24}]}, BLANK, LAB_ROUTES,
                 [("docker_gwbridge", "10.20.0.0/24", GWBRIDGE_WHY)], id="the user's pools"),
    pytest.param({"default-address-pools": [{"base": "nonsense", "size": 24}], "bip": "nonsense"}, BLANK, LAB_ROUTES, [],
                 id="pools and bip the engine would refuse: nothing predicted"),
])
def test_upcoming_networks_are_those_the_engine_will_make(config, networks, routes, expected):
    assert [(network["name"], network["subnet"], network["why"]) for network in upcoming_networks(config, networks, routes)] == expected
