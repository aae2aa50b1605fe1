"""swarm_join against a mocked engine: joins the intended swarm, leaves members alone, refuses other swarms."""

import json
from unittest import mock

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mhnet.cluster.plugins.modules import swarm_join

ARGS = dict(remote_addrs=["192.168.151.3:2377"], join_token="SWMTKN-1-secret", members=["n-demo0", "n-demo1"],
            cluster_id="X1", advertise_addr="192.168.151.4")


def engine(state="inactive", node_id="", cluster="", managers=()):
    client = mock.Mock()
    swarm = dict(LocalNodeState=state, NodeID=node_id, RemoteManagers=[{"Addr": addr} for addr in managers])
    if cluster:
        swarm["Cluster"] = {"ID": cluster}
    joined = dict(LocalNodeState="active", NodeID="n-new")
    client.info.side_effect = [dict(Swarm=swarm), dict(Swarm=joined)]
    return client


def run(capsys, client, **extra):
    with patch_module_args(dict(ARGS, **extra)), mock.patch.object(swarm_join, "connect", return_value=client):
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
