"""preflight on a mocked host and engine: facts, problems reported (not failed on), and failures through MhnetError."""

import json
import os
from unittest import mock

import pytest
from ansible.module_utils._internal import _traceback
from ansible.module_utils.testing import patch_module_args
from docker.errors import DockerException

from ansible_collections.mhnet.cluster.plugins.module_utils import _docker_client
from ansible_collections.mhnet.cluster.plugins.modules import preflight

IP_ADDR = "43: eth1    inet 192.168.151.3/24 brd 192.168.151.255 scope global eth1\\       valid_lft forever\n"
IP_ROUTE = "default via 192.168.151.1 dev eth1 proto static\n"
SWARM = dict(LocalNodeState="active", NodeID="n-demo0", ControlAvailable=True, Cluster={"ID": "X1"},
             RemoteManagers=[{"Addr": "192.168.151.4:2377"}, {"Addr": "192.168.151.3:2377"}])


@pytest.fixture(autouse=True)
def default_engine(monkeypatch):
    """The default engine, without TLS: no DOCKER_* variable of the machine running the tests leaks in."""
    for name in [name for name in os.environ if name.startswith("DOCKER_")]:
        monkeypatch.delenv(name)


def engine(swarm=None):
    client = mock.Mock()
    client.version.return_value = {"Version": "26.1.5+dfsg1", "ApiVersion": "1.45"}
    client.info.return_value = {"Name": "mhs-demo0", "Swarm": swarm or {"LocalNodeState": "inactive", "NodeID": ""}}
    return client


def bin_path(dockerd=None):
    def get_bin_path(name, required=False, opt_dirs=None):
        return {"ip": "/usr/sbin/ip", "dockerd": dockerd}.get(name)
    return get_bin_path


def run_command(args, check_rc=False, **kwargs):
    return 0, IP_ROUTE if "route" in args else IP_ADDR, ""


def run(capsys, tmp_path, api_client, dockerd=None, **args):
    """Run the module on a host with eth1 as its cluster interface and a daemon.json in tmp_path."""
    args.setdefault("daemon_json", str(tmp_path / "daemon.json"))
    with patch_module_args(args), api_client, mock.patch.object(preflight.platform, "release", return_value="6.1.0-18-amd64"), \
            mock.patch.object(preflight.AnsibleModule, "get_bin_path", side_effect=bin_path(dockerd)), \
            mock.patch.object(preflight.AnsibleModule, "run_command", side_effect=run_command), \
            mock.patch.object(preflight, "interface_mtu", return_value=1500):
        with pytest.raises(SystemExit):
            preflight.main()
    return json.loads(capsys.readouterr().out)


def answering(client):
    return mock.patch.object(_docker_client, "APIClient", return_value=client)


def test_a_swarm_manager_is_described_by_the_shared_swarm_facts(capsys, tmp_path):
    result = run(capsys, tmp_path, answering(engine(SWARM)), mode="swarm")
    assert result["changed"] is False and result["problems"] == []
    facts = result["ansible_facts"]["mhnet_host"]
    assert facts == dict(
        kernel="6.1.0-18-amd64", engine_reachable=True, engine_error="", engine_version="26.1.5+dfsg1", engine_api_version="1.45",
        hostname="mhs-demo0", swarm_state="active", swarm_node_id="n-demo0", swarm_manager=True, swarm_cluster_id="X1",
        swarm_managers=["192.168.151.3:2377", "192.168.151.4:2377"], cluster_interface="eth1", cluster_address="192.168.151.3",
        cluster_mtu=1500, kv_backends=None, problems=[],
    )


def test_an_engine_that_does_not_answer_is_a_problem_not_a_failure(capsys, tmp_path):
    result = run(capsys, tmp_path, mock.patch.object(_docker_client, "APIClient", side_effect=DockerException("connection refused")),
                 mode="swarm", fail_on_problems=False)
    assert "failed" not in result
    facts = result["ansible_facts"]["mhnet_host"]
    assert facts["engine_reachable"] is False
    assert facts["engine_error"] == "the Docker engine at unix:///var/run/docker.sock does not answer: connection refused"
    assert (facts["swarm_state"], facts["swarm_managers"]) == ("", [])
    assert result["problems"] == ["%s: install and start Docker, or fix the connection options (docker_host, TLS)" % facts["engine_error"]]


def test_problems_fail_the_task_unless_collected(capsys, tmp_path):
    (tmp_path / "daemon.json").write_text('{"cluster-store": "consul://192.168.151.2:8500"}')
    result = run(capsys, tmp_path, answering(engine()), mode="swarm")
    assert result["failed"] is True
    assert result["msg"] == result["problems"][0]
    assert result["msg"].startswith("%s still sets cluster-store/cluster-advertise" % (tmp_path / "daemon.json"))


def test_an_invalid_daemon_json_is_reported_with_the_shared_parsers_message(capsys, tmp_path):
    (tmp_path / "daemon.json").write_text("[]")
    result = run(capsys, tmp_path, answering(engine()), mode="swarm", fail_on_problems=False)
    assert result["problems"] == ["%s holds a JSON array, not a JSON object: fix it by hand; the collection does not overwrite a "
                                  "daemon.json it cannot read" % (tmp_path / "daemon.json")]


def test_a_host_that_cannot_be_inspected_fails_through_mhnet_error(capsys, tmp_path, monkeypatch):
    # read _ansible_tracebacks_for afresh: ansible caches it on a module's first failure
    monkeypatch.setattr(_traceback, "_module_tracebacks_enabled_events", None)
    with mock.patch.object(preflight, "compiled_kv_backends", side_effect=PermissionError(13, "Permission denied")):
        result = run(capsys, tmp_path, answering(engine()), dockerd="/usr/sbin/dockerd", mode="kv", fail_on_problems=False,
                     _ansible_tracebacks_for=["error"])
    assert result["failed"] is True
    assert result["msg"] == ("cannot read /usr/sbin/dockerd to find the key-value backends compiled into it "
                             "([Errno 13] Permission denied): run preflight with become")
    assert "PreflightError" in result["exception"]


def test_a_missing_docker_sdk_fails_instead_of_passing_for_an_engine_that_does_not_answer(capsys, tmp_path):
    result = run(capsys, tmp_path, mock.patch.object(_docker_client, "APIClient", None), fail_on_problems=False)
    assert result["failed"] is True
    assert "docker (the Docker SDK for Python, python3-docker on Debian)" in result["msg"]
