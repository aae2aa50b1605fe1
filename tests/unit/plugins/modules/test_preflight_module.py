"""preflight on a mocked host and engine: facts, problems reported (not failed on), and failures through MhnetError."""

import json
import os
from unittest import mock

import pytest
from ansible.module_utils._internal import _traceback
from ansible.module_utils.testing import patch_module_args
from docker.errors import DockerException

from ansible_collections.mhnet.cluster.plugins.module_utils import _docker_client, _engine_service
from ansible_collections.mhnet.cluster.plugins.modules import preflight

IP_ADDR = "43: eth1    inet 192.168.151.3/24 brd 192.168.151.255 scope global eth1\\       valid_lft forever\n"
IP_ROUTE = "default via 192.168.151.1 dev eth1 proto static\n"
ROUTES = [("192.168.151.0/24", "eth1"), ("172.17.0.0/16", "docker0")]
NETWORKS = [{"Name": "bridge", "IPAM": {"Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]}},
            {"Name": "host", "IPAM": {"Config": []}}, {"Name": "none", "IPAM": None}]
CLOCK = 1795860000.25
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
    client.networks.return_value = NETWORKS
    # As the engine lists them: an image with two tags, and an untagged one.
    client.images.return_value = [{"Id": "sha256:1", "RepoTags": ["nginx:stable", "nginx:1.27"]},
                                  {"Id": "sha256:2", "RepoTags": ["<none>:<none>"]}, {"Id": "sha256:3", "RepoTags": None}]
    return client


def bin_path(dockerd=None, unshare="/usr/bin/unshare"):
    def get_bin_path(name, required=False, opt_dirs=None):
        return {"ip": "/usr/sbin/ip", "dockerd": dockerd, "unshare": unshare}.get(name)
    return get_bin_path


def commands(ipsec=(0, "")):
    """run_command for `ip addr`, `ip route` and the IPsec probe (its exit code and error output); records the calls."""
    calls = []

    def run_command(args, check_rc=False, **kwargs):
        calls.append(list(args))
        if "xfrm" in args:
            return ipsec[0], "", ipsec[1]
        return 0, IP_ROUTE if "route" in args else IP_ADDR, ""
    run_command.calls = calls
    return run_command


def run(capsys, tmp_path, api_client, dockerd=None, run_command=None, unshare="/usr/bin/unshare", routes=None, get_bin_path=None, **args):
    """Run the module on a host with eth1 as its cluster interface and a daemon.json in tmp_path."""
    args.setdefault("daemon_json", str(tmp_path / "daemon.json"))
    with patch_module_args(args), api_client, mock.patch.object(preflight.platform, "release", return_value="6.1.0-18-amd64"), \
            mock.patch.object(preflight.AnsibleModule, "get_bin_path", side_effect=get_bin_path or bin_path(dockerd, unshare)), \
            mock.patch.object(preflight.AnsibleModule, "run_command", side_effect=run_command or commands()), \
            mock.patch.object(preflight, "interface_mtu", return_value=1500), \
            mock.patch.object(preflight, "read_routes", return_value=ROUTES, side_effect=routes), \
            mock.patch.object(preflight, "host_listening", return_value=["tcp/22"]), \
            mock.patch.object(preflight.time, "time", return_value=CLOCK):
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
        cluster_mtu=1500, cluster_prefix=24, kv_backends=None, problems=[], clock=CLOCK, engine_unit={},
        engine_networks=[dict(name="bridge", subnets=["172.17.0.0/16"]), dict(name="host", subnets=[]), dict(name="none", subnets=[])],
        routes=[["192.168.151.0/24", "eth1"], ["172.17.0.0/16", "docker0"]], ipsec_supported=None, ipsec_error="",
        listening=["tcp/22"], engine_overlay_networks=[], engine_cluster_store="",
        engine_upcoming_networks=[dict(name="docker_gwbridge", subnet="172.18.0.0/16", why=GWBRIDGE_WHY)],
        daemon_json_flag_conflicts=[], engine_waits_on="", engine_images=["nginx:1.27", "nginx:stable"],
    )


GWBRIDGE_WHY = "which Docker makes with the first container on an overlay network"


def test_a_bip_not_applied_yet_is_an_upcoming_network_and_an_engine_that_does_not_answer_has_none(capsys, tmp_path):
    (tmp_path / "daemon.json").write_text('{"bip": "10.0.9.1/24"}')
    facts = run(capsys, tmp_path, answering(engine(SWARM)), mode="swarm")["ansible_facts"]["mhnet_host"]
    assert facts["engine_upcoming_networks"] == [
        dict(name="docker0", subnet="10.0.9.0/24", why="daemon.json's bip, which the engine applies when it restarts"),
        dict(name="docker_gwbridge", subnet="172.18.0.0/16", why=GWBRIDGE_WHY)]
    facts = run(capsys, tmp_path, mock.patch.object(_docker_client, "APIClient", side_effect=DockerException("refused")),
                mode="swarm", fail_on_problems=False)["ansible_facts"]["mhnet_host"]
    assert facts["engine_upcoming_networks"] == []


def test_an_engine_that_does_not_answer_is_a_problem_not_a_failure(capsys, tmp_path):
    result = run(capsys, tmp_path, mock.patch.object(_docker_client, "APIClient", side_effect=DockerException("connection refused")),
                 mode="swarm", fail_on_problems=False)
    assert "failed" not in result
    facts = result["ansible_facts"]["mhnet_host"]
    assert facts["engine_reachable"] is False
    assert facts["engine_error"] == "the Docker engine at unix:///var/run/docker.sock does not answer: connection refused"
    assert (facts["swarm_state"], facts["swarm_managers"], facts["engine_networks"]) == ("", [], [])
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


@pytest.mark.parametrize("ipsec, unshare, supported, error", [
    pytest.param((0, ""), "/usr/bin/unshare", True, "", id="the kernel holds the state"),
    pytest.param((2, "Error: Requested AEAD algorithm not found.\n"), "/usr/bin/unshare", False,
                 "Error: Requested AEAD algorithm not found.", id="no AES-GCM: what Docker meets as 'function not implemented'"),
    pytest.param((2, "RTNETLINK answers: Protocol not supported\n"), "/usr/bin/unshare", False,
                 "RTNETLINK answers: Protocol not supported", id="no ESP, older iproute2"),
    pytest.param((1, "unshare: unshare failed: Operation not permitted\n"), "/usr/bin/unshare", None,
                 "unshare: unshare failed: Operation not permitted", id="no right to make a namespace: unknown"),
    pytest.param((0, ""), None, None, "unshare (util-linux) is not installed, so the IPsec probe did not run", id="no unshare"),
])
def test_the_ipsec_probe_runs_in_a_namespace_of_its_own_and_only_when_asked(capsys, tmp_path, ipsec, unshare, supported, error):
    calls = commands(ipsec)
    facts = run(capsys, tmp_path, answering(engine()), run_command=calls, unshare=unshare, mode="swarm", check_ipsec=True)["ansible_facts"]["mhnet_host"]
    assert (facts["ipsec_supported"], facts["ipsec_error"]) == (supported, error)
    probes = [args for args in calls.calls if "xfrm" in args]
    probe = ["/usr/bin/unshare", "--net", "--", "/usr/sbin/ip", "xfrm", "state", "add", "src", "192.0.2.1", "dst", "192.0.2.2", "proto",
             "esp", "spi", "0x00000100", "reqid", "1", "mode", "transport", "aead", "rfc4106(gcm(aes))", "0x" + "01" * 20, "64"]
    assert probes == ([] if unshare is None else [probe])


def test_no_ipsec_probe_unless_asked(capsys, tmp_path):
    calls = commands((2, "Error: Requested AEAD algorithm not found."))
    facts = run(capsys, tmp_path, answering(engine()), run_command=calls, mode="swarm")["ansible_facts"]["mhnet_host"]
    assert (facts["ipsec_supported"], facts["ipsec_error"]) == (None, "")
    assert not [args for args in calls.calls if "xfrm" in args]


def test_unreadable_routes_fail_through_mhnet_error(capsys, tmp_path, monkeypatch):
    # read _ansible_tracebacks_for afresh, and leave it uncached for the next test (monkeypatch restores it)
    monkeypatch.setattr(_traceback, "_module_tracebacks_enabled_events", None)
    result = run(capsys, tmp_path, answering(engine()), routes=FileNotFoundError(2, "No such file or directory"), mode="swarm",
                 _ansible_tracebacks_for=["error"])
    assert result["failed"] is True and "PreflightError" in result["exception"]
    assert result["msg"] == ("cannot read the host's routes from /proc/net/route ([Errno 2] No such file or directory): "
                             "run preflight on a Linux host")


@pytest.mark.parametrize("networks, probed", [
    pytest.param([dict(name="secret", encrypted=True)], True, id="encrypted: true"),
    pytest.param([dict(name="secret", driver_options=dict(encrypted=""))], True, id="the driver option"),
    pytest.param([dict(name="plain", driver_options=dict(encrypted=""), encrypted=False)], False, id="encrypted: false wins"),
    pytest.param([dict(name="plain"), "not a mapping"], False, id="no encryption asked"),
])
def test_the_ipsec_probe_runs_when_an_overlay_network_asks_for_encryption(capsys, tmp_path, networks, probed):
    calls = commands((2, "Error: Requested AEAD algorithm not found."))
    facts = run(capsys, tmp_path, answering(engine()), run_command=calls, unshare="/usr/bin/unshare", mode="swarm",
                overlay_networks=networks)["ansible_facts"]["mhnet_host"]
    assert bool([args for args in calls.calls if "xfrm" in args]) is probed
    assert facts["ipsec_supported"] is (False if probed else None)


def secondary_address_host(source):
    """run_command of a host whose eth1 holds 192.168.151.3 and, second, 192.168.151.50; the kernel sends from source."""
    calls = []

    def run_command(args, check_rc=False, **kwargs):
        calls.append(list(args))
        if args[-3:-1] == ["route", "get"]:
            return 0, "%s dev eth1 src %s uid 0 \\    cache \n" % (args[-1], source), ""
        if "route" in args:
            return 0, IP_ROUTE, ""
        return 0, IP_ADDR + "43: eth1    inet 192.168.151.50/24 scope global secondary eth1\\       valid_lft forever\n", ""
    run_command.calls = calls
    return run_command


def test_a_secondary_cluster_address_the_kernel_does_not_send_from_is_refused(capsys, tmp_path):
    calls = secondary_address_host("192.168.151.3")
    result = run(capsys, tmp_path, answering(engine()), run_command=calls, mode="swarm", advertise_address="192.168.151.50")
    assert ["/usr/sbin/ip", "-o", "-4", "route", "get", "192.168.151.1"] in calls.calls
    assert result["problems"] == [
        "the cluster address 192.168.151.50 is not the address this host sends from to the cluster network (the kernel picks "
        "192.168.151.3 for 192.168.151.1: `ip route get 192.168.151.1`), so the other engines would drop its VXLAN packets "
        "(Docker's forwarding entries name 192.168.151.50): make 192.168.151.50 the preferred source of that route (for "
        "example `ip route replace <cluster network> dev eth1 src 192.168.151.50`), or set mhnet_cluster_address to 192.168.151.3"]


def test_a_secondary_cluster_address_that_is_the_routes_source_is_accepted(capsys, tmp_path):
    result = run(capsys, tmp_path, answering(engine()), run_command=secondary_address_host("192.168.151.50"), mode="swarm",
                 advertise_address="192.168.151.50")
    facts = result["ansible_facts"]["mhnet_host"]
    assert (result["problems"], facts["cluster_interface"], facts["cluster_address"]) == ([], "eth1", "192.168.151.50")


def test_a_daemon_json_key_the_unit_also_gives_as_a_flag_is_reported(capsys, tmp_path):
    (tmp_path / "daemon.json").write_text('{"hosts": ["tcp://0.0.0.0:2375"], "debug": true}')
    show = ("LoadState=loaded\nActiveState=active\nSubState=running\nResult=success\n"
            "ExecStart={ path=/usr/sbin/dockerd ; argv[]=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock ; "
            "ignore_errors=no }\n")
    inner = commands()

    def run_command(args, check_rc=False, **kwargs):
        return (0, show, "") if "show" in args else inner(args, check_rc, **kwargs)

    def get_bin_path(name, required=False, opt_dirs=None):
        return "/usr/bin/systemctl" if name == "systemctl" else bin_path()(name, required, opt_dirs)

    with mock.patch.object(_engine_service, "systemd_booted", return_value=True):
        facts = run(capsys, tmp_path, answering(engine(SWARM)), run_command=run_command, get_bin_path=get_bin_path,
                    mode="swarm")["ansible_facts"]["mhnet_host"]
    assert facts["daemon_json_flag_conflicts"] == [["hosts", "-H fd://"]]


def test_an_engine_waiting_on_its_store_is_named_with_the_store_not_as_missing(capsys, tmp_path):
    from requests.exceptions import ReadTimeout
    (tmp_path / "daemon.json").write_text('{"cluster-store": "consul://192.168.151.2:8500"}')
    client = engine()
    client.info.side_effect = ReadTimeout("Read timed out. (read timeout=60)")
    result = run(capsys, tmp_path, answering(client), mode="kv", fail_on_problems=False)
    facts = result["ansible_facts"]["mhnet_host"]
    assert (facts["engine_reachable"], facts["engine_version"], facts["engine_waits_on"]) == (False, "26.1.5+dfsg1", "consul://192.168.151.2:8500")
    problem = [problem for problem in result["problems"] if "waits on its key-value store" in problem]
    assert problem and "consul://192.168.151.2:8500 (daemon.json's cluster-store): check that this host reaches the store" in problem[0]
    assert not [problem for problem in result["problems"] if "install and start Docker" in problem]
