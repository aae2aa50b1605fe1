"""workload_container on a fake engine: in sync means 0 changed; image, options, a hand-made container or a network made
again recreate; a stopped one is started; check mode changes nothing; the gwbridge check and the fetch fail clearly."""

import json
from unittest import mock

import pytest
from ansible.module_utils.testing import patch_module_args
from docker.errors import APIError

from ansible_collections.mhnet.cluster.plugins.module_utils import _docker_client
from ansible_collections.mhnet.cluster.plugins.module_utils._docker_client import NotFound
from ansible_collections.mhnet.cluster.plugins.modules import workload_container

IMAGE_ID = "sha256:" + "a" * 64
NEW_IMAGE_ID = "sha256:" + "b" * 64
NET_ID = "n" * 64
ARGS = dict(name="web", image="nginx:stable", network="my-net")


class Engine:
    """An engine holding images, networks and containers; records what changes."""

    def __init__(self, image_id=IMAGE_ID, network_id=NET_ID, gwbridge=True, fetch=(0, b"<title>Welcome to nginx!</title>")):
        self.images = {"nginx:stable": image_id}
        self.networks = {"my-net": network_id}
        self.containers = {}
        self.gwbridge = gwbridge
        self.fetch_answers = list(fetch) if isinstance(fetch, list) else [fetch]
        self.changes = []
        self.start_failures = 0
        client = mock.Mock()
        client.inspect_image.side_effect = lambda name: self.lookup(self.images, name, lambda value: {"Id": value})
        client.inspect_network.side_effect = self.inspect_network
        client.inspect_container.side_effect = self.inspect_container
        client.create_host_config.side_effect = lambda **kwargs: kwargs
        client.create_container.side_effect = self.create_container
        client.start.side_effect = self.start
        client.remove_container.side_effect = self.remove_container
        client.exec_create.side_effect = lambda container, argv: {"Id": "x%d" % len(self.changes)}
        client.exec_start.side_effect = lambda exec_id: self.fetch_answers[0][1]
        client.exec_inspect.side_effect = lambda exec_id: {"ExitCode": self.fetch_answers.pop(0)[0] if len(self.fetch_answers) > 1
                                                           else self.fetch_answers[0][0]}
        self.client = client

    @staticmethod
    def lookup(table, name, make):
        if name not in table:
            raise NotFound("no such object: %s" % name)
        return make(table[name])

    def inspect_network(self, name):
        if name == "docker_gwbridge":
            return {"Id": "g", "Containers": dict((container["Id"], {}) for container in self.containers.values()) if self.gwbridge else {}}
        return self.lookup(self.networks, name, lambda value: {"Id": value})

    def inspect_container(self, name):
        for container in self.containers.values():
            if name in (container["Id"], container["Name"]):
                return json.loads(json.dumps(container))
        raise NotFound("no such container: %s" % name)

    def create_container(self, image, command=None, name=None, labels=None, host_config=None):
        container_id = "c%d" % (len(self.containers) + len(self.changes))
        network = host_config["network_mode"]
        self.containers[name] = dict(Id=container_id, Name=name, Image=self.images[image], Config=dict(Labels=labels or {}),
                                     State=dict(Running=False, Status="created"), HostConfig=host_config,
                                     NetworkSettings=dict(Networks={network: dict(NetworkID=self.networks[network])}))
        self.changes.append(("create", name))
        return {"Id": container_id}

    def start(self, container_id):
        if self.start_failures:
            self.start_failures -= 1
            self.changes.append(("failed start", container_id))
            raise APIError("500 Server Error: failed to update store for object type *libnetwork.endpointCnt: network is unreachable")
        for container in self.containers.values():
            if container["Id"] == container_id:
                container["State"] = dict(Running=True, Status="running")
        self.changes.append(("start", container_id))

    def remove_container(self, container_id, force=False):
        self.containers = dict((name, c) for name, c in self.containers.items() if c["Id"] != container_id)
        self.changes.append(("remove", container_id))


def run(capsys, engine, **args):
    with patch_module_args(dict(ARGS, **args)), mock.patch.object(_docker_client, "APIClient", return_value=engine.client):
        with pytest.raises(SystemExit):
            workload_container.main()
    return json.loads(capsys.readouterr().out)


def converged(capsys, engine, **args):
    result = run(capsys, engine, **args)
    assert result["changed"] is True and not result.get("failed"), result
    engine.changes.clear()
    return result


def test_a_new_container_is_created_then_in_sync(capsys):
    engine = Engine()
    first = run(capsys, engine)
    assert first["changed"] is True and first["actions"] == ["created: no container web"]
    assert [kind for kind, dummy in engine.changes] == ["create", "start"]
    assert first["container"] == dict(id="c0", image_id=IMAGE_ID, network_id=NET_ID)
    engine.changes.clear()
    again = run(capsys, engine)
    assert (again["changed"], again["actions"], engine.changes) == (False, [], [])


@pytest.mark.parametrize("change, args, why", [
    pytest.param(lambda engine: engine.images.update({"nginx:stable": NEW_IMAGE_ID}), {},
                 "recreated: it runs image sha256:aaaaaaaaaaaa, and nginx:stable is now sha256:bbbbbbbbbbbb", id="image updated"),
    pytest.param(lambda engine: engine.networks.update({"my-net": "m" * 64}), {},
                 "recreated: the network my-net it was attached to is gone (made again with another ID, or removed)",
                 id="network made again by hand"),
    pytest.param(lambda engine: None, dict(restart_policy="unless-stopped"), "recreated: its options differ from the task's",
                 id="an option changed"),
    pytest.param(lambda engine: engine.containers["web"]["Config"].update(Labels={}), {},
                 "recreated: it was not made by this module", id="a container made by hand"),
])
def test_what_differs_recreates_the_container_and_says_why(capsys, change, args, why):
    engine = Engine()
    converged(capsys, engine)
    change(engine)
    result = run(capsys, engine, **args)
    assert result["changed"] is True and result["actions"] == [why]
    assert [kind for kind, dummy in engine.changes] == ["remove", "create", "start"]
    assert run(capsys, engine, **args)["changed"] is False


def test_a_stopped_container_in_sync_is_started_not_recreated(capsys):
    engine = Engine()
    converged(capsys, engine)
    engine.containers["web"]["State"] = dict(Running=False, Status="exited")
    result = run(capsys, engine)
    assert result["actions"] == ["started: it was exited"] and engine.changes == [("start", "c0")]


def test_check_mode_changes_nothing_and_says_what_would(capsys):
    engine = Engine()
    result = run(capsys, engine, _ansible_check_mode=True, _ansible_diff=True, gwbridge=True,
                 fetch=dict(url="http://web", expect="Welcome"))
    assert result["changed"] is True and result["actions"] == ["created: no container web"] and engine.changes == []
    assert result["diff"] == dict(before="web: absent\n", after="web: created: no container web\n")
    assert "fetched" not in result
    engine.client.exec_create.assert_not_called()


def test_check_mode_on_a_blank_engine_names_the_image_and_network_it_lacks_yet(capsys):
    engine = Engine()
    engine.images.clear()
    engine.networks.clear()
    result = run(capsys, engine, _ansible_check_mode=True, fetch=dict(url="http://web", expect="Welcome"))
    assert result["changed"] is True and not result.get("failed"), result
    assert result["actions"] == ["created: no container web", "image nginx:stable is not on this engine yet",
                                 "network my-net is not on this engine yet"]
    assert engine.changes == [] and "fetched" not in result


def test_a_missing_image_is_named_with_where_it_comes_from(capsys):
    engine = Engine()
    engine.images.clear()
    result = run(capsys, engine)
    assert result["failed"] is True and result["msg"].startswith("image nginx:stable is not on this engine")
    assert "images_list" in result["msg"] and engine.changes == []


def test_a_container_without_docker_gwbridge_fails_naming_it(capsys):
    result = run(capsys, Engine(gwbridge=False), gwbridge=True)
    assert result["failed"] is True and result["msg"].startswith("web runs but is not attached to docker_gwbridge")


def test_the_fetch_returns_the_page_and_retries_a_runtime_failure(capsys):
    engine = Engine(fetch=[(126, b"OCI runtime exec failed"), (0, b"<title>Welcome to nginx!</title>")])
    result = run(capsys, engine, fetch=dict(url="http://web", expect="Welcome to nginx!", attempts=3))
    assert result["fetched"] == "<title>Welcome to nginx!</title>"
    argv = engine.client.exec_create.call_args.args[1]
    assert argv[:2] == ["sh", "-c"] and argv[-3:] == ["probe", "http://web", "3"]


def test_a_failed_fetch_says_what_was_fetched_and_what_to_check(capsys):
    engine = Engine(fetch=(1, b"wget: bad address 'web'\n"))
    result = run(capsys, engine, fetch=dict(url="http://web", expect="Welcome", attempts=2))
    assert result["failed"] is True
    assert result["msg"] == ("web could not fetch http://web (exit 1 after 2 tries, 2 s apart): wget: bad address 'web'; check "
                             "that the page's container runs and that the hosts pass VXLAN (4789/udp) to each other")


@pytest.mark.parametrize("failures", [1, 2])
def test_a_start_the_engine_fails_is_tried_again_with_the_endpoint_forced_off(capsys, monkeypatch, failures):
    monkeypatch.setattr(workload_container, "START_DELAY", 0)
    engine = Engine()
    engine.start_failures = failures
    result = run(capsys, engine)
    assert result["changed"] is True and not result.get("failed")
    assert [kind for kind, dummy in engine.changes] == ["create", "failed start", "remove"] * failures + ["create", "start"]
    assert engine.client.disconnect_container_from_network.call_args_list == [mock.call("web", "my-net", force=True)] * failures
    assert result["actions"][1].startswith("start failed, tried again: start on the Docker engine")
    assert run(capsys, engine)["changed"] is False


def test_a_start_that_keeps_failing_fails_with_the_engines_error(capsys, monkeypatch):
    monkeypatch.setattr(workload_container, "START_DELAY", 0)
    engine = Engine()
    engine.start_failures = 3
    result = run(capsys, engine)
    assert result["failed"] is True and result["msg"].startswith("web could not start on unix:///var/run/docker.sock (3 tries): ")
    assert "network is unreachable" in result["msg"] and engine.containers == {}
