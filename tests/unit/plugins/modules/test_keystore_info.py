"""keystore_info against mocked stores: Consul (py-consul), etcd (v2 HTTP API), ZooKeeper (srvr and its protocol)."""

import io
import json
import struct
from unittest import mock
from urllib.error import HTTPError

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mhnet.cluster.plugins.modules import keystore_info

ENGINES = ["192.168.151.3:2376", "192.168.151.4:2376"]


def run(capsys, **args):
    args.setdefault("host", "192.168.151.2")
    args.setdefault("timeout", 0)  # one look, no waiting
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            keystore_info.main()
    return json.loads(capsys.readouterr().out)


# Consul --------------------------------------------------------------------------------------------------------


def consul_client(leader="192.168.151.2:8300", keys=tuple(ENGINES), stored=True):
    client = mock.Mock()
    client.status.leader.return_value = leader
    values = {}

    def put(key, value):
        if stored:
            values[key] = value.encode()
        return stored

    def get(key, recurse=False):
        if recurse:
            return 1, [{"Key": "docker/nodes/" + name, "Value": b""} for name in keys] or None
        return 1, {"Key": key, "Value": values[key]} if key in values else None

    client.kv.put.side_effect = put
    client.kv.get.side_effect = get
    return client


def run_consul(capsys, client, **args):
    with mock.patch.object(keystore_info, "consul") as library:
        library.Consul.return_value = client
        result = run(capsys, **args)
    return result, library


def test_consul_is_the_default_backend_on_its_own_port(capsys):
    client = consul_client()
    result, library = run_consul(capsys, client, expect=ENGINES)
    library.Consul.assert_called_once_with(host="192.168.151.2", port=8500)
    assert result["changed"] is False and "failed" not in result
    assert result == dict(result, leader="192.168.151.2:8300", keys=ENGINES)
    client.kv.put.assert_called_once()


@pytest.mark.parametrize("client, args, message", [
    (consul_client(leader=""), {}, "Consul at 192.168.151.2:8500 has no leader after 0s (no leader elected)"),
    (consul_client(stored=False), {}, "Consul at 192.168.151.2:8500 did not store and return a key within 0s"),
    (consul_client(keys=ENGINES[:1]), dict(expect=ENGINES),
     "Consul at 192.168.151.2:8500 lists no docker/nodes/192.168.151.4:2376 after 0s (found: 192.168.151.3:2376)"),
])
def test_consul_failures_say_what_is_missing(capsys, client, args, message):
    result, dummy = run_consul(capsys, client, **args)
    assert result["failed"] is True
    assert result["msg"].startswith(message), result["msg"]


def test_consul_check_mode_writes_no_probe(capsys):
    client = consul_client()
    result, dummy = run_consul(capsys, client, _ansible_check_mode=True)
    assert "failed" not in result
    client.kv.put.assert_not_called()


def test_consul_backend_needs_py_consul_but_the_others_do_not(capsys):
    with mock.patch.object(keystore_info, "consul", None):
        result = run(capsys)
        assert result["failed"] is True and "py-consul" in result["msg"]
        with mock.patch.object(keystore_info, "open_url", EtcdServer()):
            assert "failed" not in run(capsys, backend="etcd")


# etcd ----------------------------------------------------------------------------------------------------------

STATS = {"name": "mh-keystore", "id": "8e9e05c52164694d", "state": "StateLeader", "leaderInfo": {"leader": "8e9e05c52164694d"}}
MEMBERS = {"members": [{"id": "8e9e05c52164694d", "name": "mh-keystore", "peerURLs": ["http://192.168.151.2:2380"],
                        "clientURLs": ["http://192.168.151.2:2379"]}]}
NOT_FOUND = {"errorCode": 100, "message": "Key not found", "cause": "/docker", "index": 3}


class EtcdServer:
    """open_url's stand-in: an etcd 3.4 with (or without) its v2 API, holding keys in a dict."""

    def __init__(self, keys=(), v2=True, leader=True, accepts_writes=True):
        self.v2, self.leader, self.accepts_writes = v2, leader, accepts_writes
        self.keys = dict(("/docker/nodes/" + name, "x") for name in keys)
        self.calls = []

    def answer(self, status, body, url):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if status >= 400:
            raise HTTPError(url, status, "error", {}, io.BytesIO(data))
        response = mock.Mock()
        response.getcode.return_value, response.read.return_value = status, data
        return response

    def __call__(self, url, data=None, method="GET", headers=None, timeout=None):
        path = "/" + url.split("/", 3)[3]
        self.calls.append((method, path))
        if not self.v2:
            return self.answer(404, b"404 page not found\n", url)
        if path == "/v2/stats/self":
            return self.answer(200, STATS if self.leader else dict(STATS, leaderInfo={"leader": ""}), url)
        if path == "/v2/members":
            return self.answer(200, MEMBERS, url)
        key = path[len("/v2/keys"):]
        if method == "PUT":
            if not self.accepts_writes:
                return self.answer(403, {"errorCode": 107, "message": "read only"}, url)
            self.keys[key] = data.split("value=", 1)[1]
            return self.answer(201, {"action": "set", "node": {"key": key, "value": self.keys[key]}}, url)
        if key in self.keys:
            return self.answer(200, {"action": "get", "node": {"key": key, "value": self.keys[key]}}, url)
        children = [{"key": name, "value": value} for name, value in sorted(self.keys.items()) if name.startswith(key + "/")]
        if children:
            return self.answer(200, {"action": "get", "node": {"key": key, "dir": True, "nodes": children}}, url)
        return self.answer(404, NOT_FOUND, url)


def run_etcd(capsys, server, **args):
    with mock.patch.object(keystore_info, "open_url", server):
        return run(capsys, backend="etcd", **args)


def test_etcd_serves_stores_and_lists_the_engines(capsys):
    server = EtcdServer(keys=ENGINES)
    result = run_etcd(capsys, server, expect=ENGINES)
    assert "failed" not in result and result["changed"] is False
    assert result["leader"] == "192.168.151.2:2380"
    assert result["keys"] == ENGINES
    assert ("PUT", "/v2/keys/mhnet/probe") in server.calls
    assert ("GET", "/v2/keys/docker/nodes") in server.calls


@pytest.mark.parametrize("server, args, message", [
    (EtcdServer(v2=False), {}, "etcd at 192.168.151.2:2379 has no leader after 0s (answers without its v2 API"),
    (EtcdServer(leader=False), {}, "etcd at 192.168.151.2:2379 has no leader after 0s (no leader elected)"),
    (EtcdServer(accepts_writes=False), {}, "etcd at 192.168.151.2:2379 did not store and return a key within 0s"),
    (EtcdServer(), dict(expect=ENGINES[:1]),
     "etcd at 192.168.151.2:2379 lists no docker/nodes/192.168.151.3:2376 after 0s (found: nothing)"),
])
def test_etcd_failures_say_what_is_missing(capsys, server, args, message):
    result = run_etcd(capsys, server, **args)
    assert result["failed"] is True
    assert result["msg"].startswith(message), result["msg"]


def test_etcd_without_v2_is_told_to_enable_it(capsys):
    assert "--enable-v2=true" in run_etcd(capsys, EtcdServer(v2=False))["msg"]


def test_etcd_check_mode_writes_no_probe(capsys):
    server = EtcdServer(keys=ENGINES)
    result = run_etcd(capsys, server, _ansible_check_mode=True, port=12379)
    assert "failed" not in result
    assert [method for method, dummy in server.calls] == ["GET"] * len(server.calls)


def test_etcd_unreachable_is_not_ready_and_reported(capsys):
    with mock.patch.object(keystore_info, "open_url", side_effect=ConnectionRefusedError("Connection refused")):
        result = run(capsys, backend="etcd")
    assert result["msg"].startswith("etcd at 192.168.151.2:2379 has no leader after 0s (Connection refused)")


# ZooKeeper -----------------------------------------------------------------------------------------------------

SRVR = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nZxid: 0x0\nMode: %s\nNode count: 5\n"


class ZooKeeperServer:
    """socket.create_connection's stand-in: answers srvr, or speaks the client protocol over an in-memory tree."""

    def __init__(self, mode="standalone", children=(), srvr_allowed=True, refuse_sessions=False):
        self.mode, self.srvr_allowed, self.refuse_sessions = mode, srvr_allowed, refuse_sessions
        self.nodes = {"/": b"", "/zookeeper": b""}
        if children:
            self.nodes.update({"/docker": b"", "/docker/nodes": b""})
            self.nodes.update(("/docker/nodes/" + name, b"") for name in children)
        self.operations = []

    def __call__(self, address, timeout=None):
        return ZooKeeperConnection(self)


class ZooKeeperConnection:
    def __init__(self, server):
        self.server, self.pending, self.replies, self.session = server, b"", b"", False

    def sendall(self, data):
        if data == b"srvr" and not self.session:
            text = SRVR % self.server.mode if self.server.srvr_allowed else "srvr is not executed because it is not in the whitelist.\n"
            self.replies += text.encode()
            self.pending = None
            return
        self.pending += data
        while len(self.pending) >= 4:
            (length,) = struct.unpack_from(">i", self.pending)
            if len(self.pending) < 4 + length:
                break
            frame, self.pending = self.pending[4:4 + length], self.pending[4 + length:]
            self.handle(frame)

    def frame(self, payload):
        self.replies += struct.pack(">i", len(payload)) + payload

    def handle(self, frame):
        if not self.session:
            self.session = True
            session_id = 0 if self.server.refuse_sessions else 0x1234
            self.frame(struct.pack(">iiq", 0, 30000, session_id) + keystore_info.zk_string(b"\0" * 16) + b"\0")
            return
        xid, operation = struct.unpack_from(">ii", frame)
        if operation == keystore_info.ZK_CLOSE:
            self.server.operations.append((operation, ""))
            self.frame(struct.pack(">iqi", xid, 1, keystore_info.ZK_OK))
            return
        path, offset = keystore_info.zk_read_buffer(frame, 8)
        path = (path or b"").decode()
        self.server.operations.append((operation, path))
        nodes, error, body = self.server.nodes, keystore_info.ZK_OK, b""
        if operation == keystore_info.ZK_CREATE:
            data, offset = keystore_info.zk_read_buffer(frame, offset)
            if path in nodes:
                error = keystore_info.ZK_NODE_EXISTS
            else:
                nodes[path] = data or b""
                body = keystore_info.zk_string(path)
        elif operation == keystore_info.ZK_SET_DATA:
            data, offset = keystore_info.zk_read_buffer(frame, offset)
            if path in nodes:
                nodes[path] = data
                body = b"\0" * 68  # Stat
            else:
                error = keystore_info.ZK_NO_NODE
        elif operation == keystore_info.ZK_GET_DATA:
            if path in nodes:
                body = keystore_info.zk_string(nodes[path]) + b"\0" * 68
            else:
                error = keystore_info.ZK_NO_NODE
        elif operation == keystore_info.ZK_GET_CHILDREN:
            if path in nodes:
                names = [name[len(path) + 1:] for name in sorted(nodes) if name.startswith(path + "/") and "/" not in name[len(path) + 1:]]
                body = struct.pack(">i", len(names)) + b"".join(keystore_info.zk_string(name) for name in names)
            else:
                error = keystore_info.ZK_NO_NODE
        if error:
            body = b""
        self.frame(struct.pack(">iqi", xid, 1, error) + body)

    def recv(self, size):
        chunk, self.replies = self.replies[:size], self.replies[size:]
        return chunk

    def close(self):
        pass


def run_zookeeper(capsys, server, **args):
    with mock.patch.object(keystore_info.socket, "create_connection", server):
        return run(capsys, backend="zookeeper", **args)


@pytest.mark.parametrize("mode", ["standalone", "leader", "follower"])
def test_zookeeper_serves_stores_and_lists_the_engines(capsys, mode):
    server = ZooKeeperServer(mode=mode, children=ENGINES)
    result = run_zookeeper(capsys, server, expect=ENGINES)
    assert "failed" not in result and result["changed"] is False
    assert result["leader"] == mode
    assert result["keys"] == ENGINES
    assert server.nodes["/mhnet/probe"].startswith(b"1")


def test_zookeeper_with_nothing_registered_lists_nothing(capsys):
    server = ZooKeeperServer()
    result = run_zookeeper(capsys, server)
    assert "failed" not in result and result["keys"] == []
    assert (keystore_info.ZK_GET_CHILDREN, "/docker/nodes") in server.operations


def test_zookeeper_probe_overwrites_an_existing_probe_key(capsys):
    server = ZooKeeperServer()
    server.nodes.update({"/mhnet": b"", "/mhnet/probe": b"old"})
    assert "failed" not in run_zookeeper(capsys, server)
    assert server.nodes["/mhnet/probe"] != b"old"
    assert (keystore_info.ZK_CREATE, "/mhnet/probe") not in server.operations


@pytest.mark.parametrize("server, args, message", [
    (ZooKeeperServer(mode="unknown"), {}, "ZooKeeper at 192.168.151.2:2181 is not serving after 0s (srvr reports no serving mode)"),
    (ZooKeeperServer(srvr_allowed=False), {}, "ZooKeeper at 192.168.151.2:2181 is not serving after 0s (does not answer srvr"),
    (ZooKeeperServer(refuse_sessions=True), {}, "ZooKeeper at 192.168.151.2:2181 is not serving after 0s (refused a client session"),
    (ZooKeeperServer(children=ENGINES[1:]), dict(expect=ENGINES),
     "ZooKeeper at 192.168.151.2:2181 lists no docker/nodes/192.168.151.3:2376 after 0s (found: 192.168.151.4:2376)"),
])
def test_zookeeper_failures_say_what_is_missing(capsys, server, args, message):
    result = run_zookeeper(capsys, server, **args)
    assert result["failed"] is True
    assert result["msg"].startswith(message), result["msg"]


def test_zookeeper_check_mode_writes_no_probe(capsys):
    server = ZooKeeperServer(children=ENGINES)
    result = run_zookeeper(capsys, server, _ansible_check_mode=True)
    assert "failed" not in result
    assert [operation for operation, dummy in server.operations] == [keystore_info.ZK_GET_CHILDREN, keystore_info.ZK_CLOSE]


# Waiting -------------------------------------------------------------------------------------------------------


def test_wait_polls_until_the_expected_keys_appear():
    store = mock.Mock(label="etcd", not_serving=("has no leader", "no leader elected"))
    store.read_state.side_effect = [OSError("refused"), ("l", True, []), ("l", True, ENGINES)]
    clock = iter(range(100))
    sleeps = []
    params = dict(host="h", port=2379, prefix="docker/nodes/", expect=ENGINES, timeout=10)
    assert keystore_info.wait(store, params, False, clock=lambda: next(clock), sleep=sleeps.append) == (True, "l", ENGINES, "")
    assert sleeps == [1, 1]


def test_wait_reports_the_last_error_at_the_deadline():
    store = mock.Mock(label="Consul", not_serving=("has no leader", "no leader elected"))
    store.read_state.side_effect = OSError("Connection refused")
    clock = iter(range(100))
    params = dict(host="h", port=8500, prefix="docker/nodes/", expect=[], timeout=3)
    ok, leader, keys, msg = keystore_info.wait(store, params, False, clock=lambda: next(clock), sleep=lambda seconds: None)
    assert not ok and store.read_state.call_count == 3
    assert msg == "Consul at h:8500 has no leader after 3s (Connection refused): check the keystore container's logs"
