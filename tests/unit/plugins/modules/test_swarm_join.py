"""swarm_join against a mocked engine: joins the intended swarm, leaves members alone, refuses other swarms."""

import json
import os
from unittest import mock

import pytest
from ansible.module_utils._internal import _traceback
from ansible.module_utils.testing import patch_module_args
from docker.errors import APIError

from ansible_collections.mhnet.cluster.plugins.module_utils import _docker_client
from ansible_collections.mhnet.cluster.plugins.modules import swarm_join

ARGS = dict(remote_addrs=["192.168.151.3:2377"], join_token="SWMTKN-1-secret", members=["n-demo0", "n-demo1"],
            cluster_id="X1", advertise_addr="192.168.151.4")


@pytest.fixture(autouse=True)
def default_engine(monkeypatch):
    """The default engine, without TLS: no DOCKER_* variable of the machine running the tests leaks in."""
    for name in [name for name in os.environ if name.startswith("DOCKER_")]:
        monkeypatch.delenv(name)


def engine(state="inactive", node_id="", cluster="", managers=()):
    client = mock.Mock()
    swarm = dict(LocalNodeState=state, NodeID=node_id, RemoteManagers=[{"Addr": addr} for addr in managers])
    if cluster:
        swarm["Cluster"] = {"ID": cluster}
    joined = dict(LocalNodeState="active", NodeID="n-new")
    client.info.side_effect = [dict(Swarm=swarm), dict(Swarm=joined)]
    return client


def run(capsys, client, **extra):
    """Run the module against a mocked SDK client, through the real connect() and its error boundary."""
    with patch_module_args(dict(ARGS, **extra)), mock.patch.object(_docker_client, "APIClient", return_value=client):
        with pytest.raises(SystemExit):
            swarm_join.main()
    return json.loads(capsys.readouterr().out)


def test_an_inactive_engine_joins(capsys):
    client = engine()
    result = run(capsys, client)
    assert result["changed"] is True and result["node_id"] == "n-new"
    client.join_swarm.assert_called_once_with(["192.168.151.3:2377"], "SWMTKN-1-secret", listen_addr="0.0.0.0:2377",
                                              advertise_addr="192.168.151.4")
    assert "SWMTKN-1-secret" not in json.dumps(result)


def test_check_mode_joins_nothing(capsys):
    client = engine()
    result = run(capsys, client, _ansible_check_mode=True, _ansible_diff=True)
    assert result["changed"] is True and not client.join_swarm.called
    assert result["diff"] == {"before": {"swarm": None}, "after": {"swarm": "swarm X1"}}


def test_a_member_of_the_intended_swarm_is_left_alone(capsys):
    client = engine("active", "n-demo1", managers=["192.168.151.3:2377"])
    result = run(capsys, client)
    assert result["changed"] is False and not client.join_swarm.called and not client.leave_swarm.called


def test_a_host_of_another_swarm_is_refused_naming_it(capsys):
    client = engine("active", "n-other", "F9", ["127.0.0.1:2377"])
    result = run(capsys, client)
    assert result["failed"] is True
    assert result["msg"].startswith("this host is in swarm F9 (managers 127.0.0.1:2377), not in swarm X1: nothing was changed")
    assert not client.join_swarm.called and not client.leave_swarm.called


def test_force_rejoin_leaves_the_other_swarm_then_joins(capsys):
    client = engine("active", "n-other", "F9", ["127.0.0.1:2377"])
    result = run(capsys, client, force_rejoin=True)
    assert result["changed"] is True
    client.leave_swarm.assert_called_once_with(force=True)
    assert client.join_swarm.called


def test_a_refusal_by_the_engine_fails_naming_the_call_and_the_engine(capsys, monkeypatch):
    client = engine()
    client.join_swarm.side_effect = APIError("rpc error: code = Unavailable desc = connection error")
    # read _ansible_tracebacks_for afresh: ansible caches it on a module's first failure
    monkeypatch.setattr(_traceback, "_module_tracebacks_enabled_events", None)
    result = run(capsys, client, _ansible_tracebacks_for=["error"])
    assert result["failed"] is True
    assert result["msg"] == ("join_swarm on the Docker engine at unix:///var/run/docker.sock failed: "
                             "rpc error: code = Unavailable desc = connection error")
    assert "EngineError" in result["exception"] and "APIError" in result["exception"]
    assert "SWMTKN-1-secret" not in json.dumps(result)


def test_an_engine_that_does_not_answer_fails_the_join(capsys):
    with patch_module_args(ARGS), mock.patch.object(_docker_client, "APIClient", side_effect=APIError("connection refused")):
        with pytest.raises(SystemExit):
            swarm_join.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert result["msg"] == "the Docker engine at unix:///var/run/docker.sock does not answer: connection refused"


def test_the_engine_is_named_by_docker_host_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://192.168.151.4:2375")
    with patch_module_args(ARGS), mock.patch.object(_docker_client, "APIClient", return_value=engine()) as api_client:
        with pytest.raises(SystemExit):
            swarm_join.main()
    assert json.loads(capsys.readouterr().out)["changed"] is True
    api_client.assert_called_once_with(base_url="tcp://192.168.151.4:2375", version="auto", timeout=60)


@pytest.mark.parametrize("state, cluster, managers", [
    pytest.param("active", "X1", (), id="stale node ID of this swarm"),
    pytest.param("pending", "", ("192.168.151.3:2377",), id="pending on this swarm's manager"),
])
def test_a_host_half_joined_to_this_swarm_leaves_and_joins_again(capsys, state, cluster, managers):
    client = engine(state, node_id="n-old", cluster=cluster, managers=managers)
    result = run(capsys, client)
    assert result["changed"] is True and result["node_id"] == "n-new"
    client.leave_swarm.assert_called_once_with(force=True)
    client.join_swarm.assert_called_once()
