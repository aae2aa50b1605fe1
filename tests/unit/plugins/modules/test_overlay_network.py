"""overlay_network against a mocked engine: creates, compares, refuses, and writes nothing in check mode."""

import json
import os
from unittest import mock

import pytest
import yaml
from ansible.module_utils._internal import _traceback
from ansible.module_utils.testing import patch_module_args
from docker.errors import APIError

from ansible_collections.mhnet.cluster.plugins.module_utils import _docker_client
from ansible_collections.mhnet.cluster.plugins.module_utils._docker_client import NotFound
from ansible_collections.mhnet.cluster.plugins.module_utils._networks import NETWORK_OPTIONS
from ansible_collections.mhnet.cluster.plugins.module_utils._plan import DEFAULT_OVERLAY_NETWORKS, overlay_key_problems
from ansible_collections.mhnet.cluster.plugins.modules import overlay_network

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

WRITES = ("create_network", "remove_network", "disconnect_container_from_network")
BRIDGE = {"Name": "bridge", "Id": "b1", "IPAM": {"Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]}}
APP = {
    "Name": "app",
    "Id": "old1",
    "Driver": "overlay",
    "Scope": "global",
    "Attachable": True,
    "Internal": False,
    "Options": {},
    "Labels": {"tier": "app"},
    "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.0.9.0/24", "Gateway": "10.0.9.1"}]},
    "Containers": {},
}
WEB1 = {"c0ffee": {"Name": "web1", "IPv4Address": "10.0.9.2/24"}}


def engine(existing=None):
    """A mocked low-level client holding the bridge network and, optionally, the network `app`."""
    client = mock.Mock()
    networks = {"app": existing} if existing else {}

    def inspect_network(net_id):
        for network in networks.values():
            if net_id in (network["Name"], network["Id"]):
                return network
        raise NotFound("network %s not found" % net_id)

    def create_network(name, **kwargs):
        networks[name] = dict(APP, Id="new1", Options=kwargs.get("options") or {}, Attachable=bool(kwargs.get("attachable")))
        return {"Id": "new1", "Warning": ""}

    def remove_network(net_id):
        networks.pop("app")

    client.inspect_network.side_effect = inspect_network
    client.create_network.side_effect = create_network
    client.remove_network.side_effect = remove_network
    client.networks.return_value = [BRIDGE] + list(networks.values())
    return client


@pytest.fixture(autouse=True)
def default_engine(monkeypatch):
    """The default engine, without TLS: no DOCKER_* variable of the machine running the tests leaks in."""
    for name in [name for name in os.environ if name.startswith("DOCKER_")]:
        monkeypatch.delenv(name)


def run(capsys, client, **args):
    """Run the module against a mocked SDK client, through the real connect() and its error boundary."""
    args.setdefault("name", "app")
    with patch_module_args(args), mock.patch.object(_docker_client, "APIClient", return_value=client), mock.patch.object(
        overlay_network, "read_routes", return_value=[("192.168.151.0/24", "eth1")]
    ):
        with pytest.raises(SystemExit):
            overlay_network.main()
    return json.loads(capsys.readouterr().out)


def writes(client):
    return [name for name in WRITES if getattr(client, name).called]


SAME = dict(ipam_config=[{"subnet": "10.0.9.0/24"}], attachable=True, labels={"tier": "app"})


def test_creates_an_absent_network(capsys):
    client = engine()
    result = run(capsys, client, _ansible_diff=True, **SAME)
    assert result["changed"] is True
    client.create_network.assert_called_once_with(
        "app",
        driver="overlay",
        ipam={"Driver": "default", "Config": [{"Subnet": "10.0.9.0/24"}]},
        attachable=True,
        labels={"tier": "app"},
    )
    assert (result["id"], result["scope"], result["network"]["Name"]) == ("new1", "global", "app")
    assert result["diff"] == {
        "before": {},
        "after": {"driver": "overlay", "ipam_config": [{"subnet": "10.0.9.0/24"}], "attachable": True, "labels": {"tier": "app"}},
    }


def test_passes_mtu_and_encryption_as_driver_options(capsys):
    client = engine()
    run(capsys, client, mtu=1400, encrypted=True, internal=True, scope="swarm")
    client.create_network.assert_called_once_with(
        "app", driver="overlay", options={"encrypted": "", "com.docker.network.driver.mtu": "1400"}, internal=True, scope="swarm"
    )


def test_check_mode_reports_the_creation_and_writes_nothing(capsys):
    client = engine()
    result = run(capsys, client, _ansible_check_mode=True, **SAME)
    assert result["changed"] is True
    assert writes(client) == []
    assert (result["network"], result["id"], result["scope"]) == ({}, "", "")


@pytest.mark.parametrize("check_mode", [False, True], ids=["real", "check mode"])
def test_the_same_network_is_left_alone(capsys, check_mode):
    client = engine(APP)
    result = run(capsys, client, _ansible_check_mode=check_mode, _ansible_diff=True, **SAME)
    assert result["changed"] is False
    assert writes(client) == []
    assert (result["id"], result["scope"], result["differences"]) == ("old1", "global", [])
    assert result["diff"]["before"] == result["diff"]["after"]


def test_a_difference_without_recreate_fails_naming_it(capsys):
    client = engine(APP)
    result = run(capsys, client, attachable=False, encrypted=True)
    assert result["failed"] is True
    assert "attachable is true on the network, false wanted" in result["msg"]
    assert 'options.encrypted is unset on the network, "" wanted' in result["msg"]
    assert "set recreate: true" in result["msg"]
    assert writes(client) == []


def test_recreate_with_containers_attached_needs_force(capsys):
    client = engine(dict(APP, Containers=WEB1))
    result = run(capsys, client, attachable=False, recreate=True)
    assert result["failed"] is True
    assert "containers attached (web1)" in result["msg"]
    assert "set force: true" in result["msg"]
    assert writes(client) == []


def test_recreate_with_force_disconnects_removes_and_creates(capsys):
    client = engine(dict(APP, Containers=dict(WEB1, **{"lb-app": {"Name": "app-endpoint"}})))
    result = run(capsys, client, attachable=False, recreate=True, force=True)
    assert result["changed"] is True
    client.disconnect_container_from_network.assert_called_once_with("c0ffee", "old1", force=True)
    client.remove_network.assert_called_once_with("old1")
    client.create_network.assert_called_once_with("app", driver="overlay", attachable=False)
    assert result["id"] == "new1"
    assert result["differences"] == [{"parameter": "attachable", "before": True, "after": False}]


def test_recreate_in_check_mode_writes_nothing(capsys):
    client = engine(dict(APP, Containers=WEB1))
    result = run(capsys, client, _ansible_check_mode=True, attachable=False, recreate=True, force=True)
    assert result["changed"] is True
    assert writes(client) == []


@pytest.mark.parametrize(
    "subnet, overlap",
    [
        pytest.param("172.17.0.0/16", "network 'bridge' (172.17.0.0/16)", id="engine's bridge network"),
        pytest.param("192.168.0.0/16", "route 192.168.151.0/24 on eth1", id="host route"),
    ],
)
def test_an_overlapping_subnet_is_refused(capsys, subnet, overlap):
    client = engine()
    result = run(capsys, client, ipam_config=[{"subnet": subnet}])
    assert result["failed"] is True
    assert "subnet %s of network 'app' overlaps %s" % (subnet, overlap) in result["msg"]
    assert "choose another subnet, or set check_overlap: false" in result["msg"]
    assert writes(client) == []


def test_check_overlap_false_creates_anyway(capsys):
    client = engine()
    result = run(capsys, client, ipam_config=[{"subnet": "172.17.0.0/16"}], check_overlap=False)
    assert result["changed"] is True
    assert client.create_network.called


@pytest.mark.parametrize(
    "pool, fragment",
    [
        pytest.param({"subnet": "10.0.9.1/24"}, "ipam_config[0].subnet '10.0.9.1/24' is not a valid CIDR network", id="host bits set"),
        pytest.param({"subnet": "10.0.9.0/24", "gateway": "10.0.10.1"}, "gateway 10.0.10.1 is not inside subnet 10.0.9.0/24", id="gateway outside"),
    ],
)
def test_invalid_addresses_are_refused_before_the_engine_is_asked(capsys, pool, fragment):
    client = engine(APP)
    result = run(capsys, client, ipam_config=[pool])
    assert result["failed"] is True
    assert fragment in result["msg"]
    assert client.inspect_network.called is False
    assert writes(client) == []


@pytest.mark.parametrize(
    "existing, check_mode, changed, removed",
    [
        pytest.param(APP, False, True, True, id="present network is removed"),
        pytest.param(APP, True, True, False, id="check mode reports the removal and writes nothing"),
        pytest.param(None, False, False, False, id="absent network: nothing to do"),
    ],
)
def test_state_absent(capsys, existing, check_mode, changed, removed):
    client = engine(existing)
    result = run(capsys, client, state="absent", _ansible_check_mode=check_mode, _ansible_diff=True)
    assert result["changed"] is changed
    assert client.remove_network.called is removed
    assert writes(client) == (["remove_network"] if removed else [])
    assert result["diff"]["after"] == {}
    assert (result["network"], result["id"]) == ({}, "")


def test_removal_with_containers_attached_needs_force(capsys):
    client = engine(dict(APP, Containers=WEB1))
    result = run(capsys, client, state="absent")
    assert result["failed"] is True
    assert "network 'app' has containers attached (web1); removing it would cut them off" in result["msg"]
    assert writes(client) == []


def test_a_refusal_by_the_engine_fails_naming_the_call_and_the_engine(capsys, monkeypatch):
    client = engine()
    client.create_network.side_effect = APIError("409 Client Error: Conflict (network with name app already exists)")
    # read _ansible_tracebacks_for afresh: ansible caches it on a module's first failure
    monkeypatch.setattr(_traceback, "_module_tracebacks_enabled_events", None)
    result = run(capsys, client, _ansible_tracebacks_for=["error"], **SAME)
    assert result["failed"] is True
    assert result["msg"] == ("create_network on the Docker engine at unix:///var/run/docker.sock failed: "
                             "409 Client Error: Conflict (network with name app already exists)")
    assert "EngineError" in result["exception"]


def test_unreadable_routes_fail_saying_how_to_go_on(capsys):
    with patch_module_args(dict(name="app", ipam_config=[{"subnet": "10.0.9.0/24"}])), mock.patch.object(
        _docker_client, "APIClient", return_value=engine()
    ), mock.patch.object(overlay_network, "read_routes", side_effect=PermissionError(13, "Permission denied")):
        with pytest.raises(SystemExit):
            overlay_network.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert result["msg"].startswith("cannot read the host's routes to check subnets for overlaps ([Errno 13] Permission denied)")
    assert "set check_overlap: false" in result["msg"]


# overlay_networks entries (the preflight role's variable) take the module's options; the plan checks them before any host changes.

def module_spec():
    """The module's own argument spec, as main() builds it."""
    with patch_module_args(dict(name="app")), mock.patch.object(overlay_network, "AnsibleModule", side_effect=SystemExit) as module:
        with pytest.raises(SystemExit):
            overlay_network.main()
    return module.call_args.kwargs["argument_spec"]


def test_the_module_takes_the_options_the_plan_checks_entries_against():
    module_options = dict((name, option) for name, option in module_spec().items() if name not in _docker_client.DOCKER_COMMON_ARGS)
    assert module_options == NETWORK_OPTIONS


def test_the_preflight_role_leaves_the_entries_to_the_plan():
    # A spec with suboptions would refuse one mistyped key alone, before the plan's one failure naming every bad entry
    with open(os.path.join(REPO, "roles", "preflight", "meta", "argument_specs.yml")) as handle:
        option = yaml.safe_load(handle)["argument_specs"]["main"]["options"]["overlay_networks"]
    assert (option["type"], option["elements"], option.get("options")) == ("list", "dict", None)


def test_the_plan_accepts_the_default_and_a_full_entry():
    assert overlay_key_problems(DEFAULT_OVERLAY_NETWORKS) == []
    assert overlay_key_problems([dict(
        name="app", state="present", driver="overlay", driver_options={"com.docker.network.driver.overlay.vxlanid_list": "4097"},
        ipam_config=[dict(subnet="10.0.9.0/24", gateway="10.0.9.1", ip_range="10.0.9.128/25")], attachable=True, internal=False,
        labels={"tier": "app"}, mtu="auto", encrypted=False, scope="swarm", recreate=False, force=False, check_overlap=True,
    )]) == []


@pytest.mark.parametrize("entry, fragment", [
    pytest.param(dict(name="app", ipam_confg=[{"subnet": "10.0.9.0/24"}]), "unknown key 'ipam_confg' (did you mean 'ipam_config'?)",
                 id="misspelt option"),
    pytest.param(dict(name="app", ipam_config=[{"subnet": "10.0.9.0/24", "gatway": "10.0.9.1"}]),
                 "ipam_config[0] has an unknown key 'gatway' (did you mean 'gateway'?)", id="misspelt pool key"),
    pytest.param(dict(ipam_config=[{"subnet": "10.0.9.0/24"}]), "overlay_networks[0] has no name", id="no name"),
    pytest.param(dict(name="app", ipam_config=[{"gateway": "10.0.9.1"}]), "'app': missing required arguments: subnet found in ipam_config",
                 id="pool without subnet"),
    pytest.param(dict(name="app", attachable="sometimes"), "'app': argument 'attachable' is of type str", id="not a boolean"),
    pytest.param(dict(name="app", labels=["tier=app"]), "'app': argument 'labels' is of type list", id="labels not a dict"),
    pytest.param(dict(name="app", state="gone"), "'app': value of state must be one of: present, absent, got: gone", id="unknown state"),
])
def test_the_plan_refuses_a_wrong_entry_once(entry, fragment):
    errors = overlay_key_problems([entry])
    assert len(errors) == 1 and fragment in errors[0]
