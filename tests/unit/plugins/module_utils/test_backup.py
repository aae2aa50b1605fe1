"""Which manager a swarm backup stops, which node entries a restore drops, and what an archive may hold."""

import json
import os
import stat
import tarfile

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils._backup import (
    BackupError,
    address_host,
    archive_address,
    check_restore_address,
    check_swarm_archive,
    choose_backup_manager,
    extract_archive,
    stale_nodes,
    write_archive,
)


def node(hostname, role="manager", state="ready", leader=False, reach="reachable", node_id=None):
    result = dict(ID=node_id or hostname.upper(), Description=dict(Hostname=hostname), Spec=dict(Role=role),
                  Status=dict(State=state))
    if role == "manager":
        result["ManagerStatus"] = dict(Reachability=reach, Leader=leader)
    return result


@pytest.mark.parametrize("nodes, managers, expected", [
    ([node("a", leader=True), node("b"), node("c")], ["a", "b", "c"], ("b", False)),
    ([node("a"), node("b", leader=True), node("c")], ["c", "b", "a"], ("c", False)),
    ([node("a", leader=True), node("b", state="down", reach="unreachable"), node("c")], ["a", "b", "c"], ("c", False)),
    ([node("a", leader=True), node("w", role="worker")], ["a"], ("a", True)),
    ([node("a", leader=True), node("x")], ["a"], ("a", True)),  # x is not planned
])
def test_choose_backup_manager_prefers_the_first_planned_follower(nodes, managers, expected):
    assert choose_backup_manager(nodes, managers) == expected


def test_choose_backup_manager_refuses_without_a_ready_planned_manager():
    with pytest.raises(BackupError, match="no planned manager"):
        choose_backup_manager([node("a", state="down", reach="unreachable")], ["a"])


def test_stale_nodes_are_the_not_ready_entries_of_hosts_outside_any_swarm():
    nodes = [node("a", node_id="NEW"), node("a", state="down", node_id="OLD"), node("b", state="unknown"),
             node("c", state="down"), node("d", role="worker", state="ready")]
    assert [n["ID"] for n in stale_nodes(nodes, "NEW", ["a", "b", "d"])] == ["OLD", "B"]


@pytest.mark.parametrize("names", [["swarm", "swarm/raft"], ["swarm/raft/wal"]])
def test_check_swarm_archive_accepts_the_swarm_directory(names):
    check_swarm_archive(names)


@pytest.mark.parametrize("names, message", [
    (["etc/passwd"], "holds no swarm/"),
    (["swarm", "/etc/passwd"], "outside swarm/"),
    (["swarm", "swarm/../../etc/passwd"], "outside swarm/"),
    (["swarm", "other/file"], "outside swarm/"),
])
def test_check_swarm_archive_refuses_anything_else(names, message):
    with pytest.raises(BackupError, match=message):
        check_swarm_archive(names)


def test_write_and_extract_round_trip_with_mode_0600(tmp_path):
    source = tmp_path / "docker" / "swarm"
    (source / "raft").mkdir(parents=True)
    (source / "raft" / "key").write_text("secret")
    archive = tmp_path / "out" / "swarm.tar.gz"
    assert write_archive(str(source), str(archive)) > 0
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    with tarfile.open(archive) as handle:
        assert sorted(handle.getnames()) == ["swarm", "swarm/raft", "swarm/raft/key"]
    target = tmp_path / "restored"
    target.mkdir()
    extract_archive(str(archive), str(target))
    assert (target / "swarm" / "raft" / "key").read_text() == "secret"


def test_archive_address_is_the_backed_up_managers_and_another_address_is_refused(tmp_path):
    source = tmp_path / "docker" / "swarm"
    source.mkdir(parents=True)
    (source / "docker-state.json").write_text(json.dumps(dict(LocalAddr="192.0.2.3", AdvertiseAddr="192.0.2.3",
                                                              ListenAddr="192.0.2.3:2377")))
    archive = tmp_path / "swarm.tar.gz"
    write_archive(str(source), str(archive))
    assert archive_address(str(archive)) == "192.0.2.3"
    check_restore_address("192.0.2.3", "192.0.2.3")
    check_restore_address("", "192.0.2.2")  # an archive without the file: nothing to compare
    with pytest.raises(BackupError, match="cluster address 192.0.2.3"):
        check_restore_address("192.0.2.3", "192.0.2.2")


@pytest.mark.parametrize("address, host", [("192.0.2.3", "192.0.2.3"), ("192.0.2.3:2377", "192.0.2.3"),
                                           ("[2001:db8::1]:2377", "2001:db8::1"), ("2001:db8::1", "2001:db8::1")])
def test_address_host(address, host):
    assert address_host(address) == host
