"""swarm_backup against a mocked engine and service: the chosen follower acts, others do not; a restore refuses an
engine in a swarm; check mode stops nothing."""

from unittest import mock

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils._backup import BackupError
from ansible_collections.mhnet.cluster.plugins.modules import swarm_backup


def manager_node(hostname, leader=False):
    return dict(ID=hostname.upper(), Description=dict(Hostname=hostname), Spec=dict(Role="manager"),
                Status=dict(State="ready"), ManagerStatus=dict(Reachability="reachable", Leader=leader))


def module(check_mode=False, **params):
    result = mock.Mock(check_mode=check_mode)
    result.params = dict(state="backup", path="/tmp/unused.tar.gz", managers=["a", "b", "c"], advertise_addr=None,
                         listen_addr="0.0.0.0:2377", stale_hostnames=[], force=False, swarm_dir="/nonexistent/swarm",
                         service="docker", wait_timeout=5)
    result.params.update(params)
    return result


def client(name, state="active", manager=True, autolock=False):
    engine = mock.Mock()
    engine.info.return_value = dict(Name=name, Swarm=dict(LocalNodeState=state, NodeID=name.upper(),
                                                          ControlAvailable=manager, Cluster=dict(ID="C1")))
    engine.inspect_swarm.return_value = dict(Spec=dict(EncryptionConfig=dict(AutoLockManagers=autolock)))
    engine.nodes.return_value = [manager_node("a", leader=True), manager_node("b"), manager_node("c")]
    return engine


def test_a_manager_that_is_not_chosen_does_nothing():
    result = swarm_backup.backup(module(), client("c"))
    assert result == dict(changed=False, backed_up=False, chosen="b", leader=False, node_id="C")


def test_the_chosen_follower_in_check_mode_reports_a_change_and_stops_nothing():
    with mock.patch.object(swarm_backup, "EngineService") as engine:
        result = swarm_backup.backup(module(check_mode=True), client("b"))
    assert result["changed"] and result["backed_up"] and not engine.called


def test_a_worker_and_an_auto_locked_swarm_are_refused():
    with pytest.raises(BackupError, match="not a swarm manager"):
        swarm_backup.backup(module(), client("w", manager=False))
    with pytest.raises(BackupError, match="auto-lock"):
        swarm_backup.backup(module(), client("b", autolock=True))


def test_restore_refuses_an_engine_in_a_swarm_unless_forced():
    with pytest.raises(BackupError, match="blank manager"):
        swarm_backup.restore(module(state="restore", advertise_addr="192.0.2.3"), client("a"))
    with mock.patch.object(swarm_backup, "EngineService") as engine:
        result = swarm_backup.restore(module(check_mode=True, state="restore", advertise_addr="192.0.2.3", force=True),
                                      client("a"))
    assert result["changed"] and not engine.called
