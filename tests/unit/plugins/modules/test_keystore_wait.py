"""keystore_wait against mocked stores (Consul's HTTP API, etcd's v2 API): an injected opener, a fake clock, no network."""

import io
import json
from unittest import mock
from urllib.error import HTTPError, URLError

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mhnet.cluster.plugins.module_utils import _store_client
from ansible_collections.mhnet.cluster.plugins.modules import keystore_wait

ENGINES = ["192.168.151.3:2376", "192.168.151.4:2376"]
CONSUL = dict(host="192.168.151.2", port=8500)
ETCD = dict(backend="etcd", host="192.168.151.2", port=2379)
DEFAULTS = dict(backend="consul", prefix="docker/nodes/", expect=[], forget=[], probe=True, timeout=60)


def response(status, body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = mock.Mock()
    answer.getcode.return_value, answer.read.return_value = status, data
    return answer


def http_error(url, status, body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HTTPError(url, status, "error", {}, io.BytesIO(data))


class FakeServer:
    """open_url's stand-in: records (method, path) of every request; refuses connections while `down` is true."""

    def __init__(self, down=False):
        self.down = down
        self.calls = []
        self.options = []
        self.sent = []  # url, headers and TLS options of each request

    def __call__(self, url, data=None, method="GET", headers=None, timeout=None, use_proxy=True, **tls):
        path = "/" + url.split("/", 3)[3]
        self.calls.append((method, path))
        self.options.append(dict(timeout=timeout, use_proxy=use_proxy))
        self.sent.append(dict(url=url, headers=headers, **tls))
        if self.down:
            raise URLError(ConnectionRefusedError(111, "Connection refused"))
        status, body = self.handle(method, path, data)
        if status >= 400:
            raise http_error(url, status, body)
        return response(status, body)

    def methods(self):
        return [method for method, dummy in self.calls]


class ConsulServer(FakeServer):
    """Consul's HTTP API over a dict. `leaders` is what /v1/status/leader answers, one per request, the last repeated."""

    def __init__(self, leaders=("192.168.151.2:8300",), keys=(), accepts_writes=True, corrupts=False, down=False):
        super().__init__(down)
        self.leaders = list(leaders)
        self.kv = dict(("docker/nodes/" + name, b"") for name in keys)
        self.accepts_writes, self.corrupts = accepts_writes, corrupts

    def handle(self, method, path, data):
        if path == "/v1/status/leader":
            return 200, self.leaders.pop(0) if len(self.leaders) > 1 else self.leaders[0]
        key, dummy, query = path[len("/v1/kv/"):].partition("?")
        if method == "PUT":
            if not self.accepts_writes:
                return 500, b"No cluster leader"
            self.kv[key] = b"garbled" if self.corrupts else data
            return 200, True
        if method == "DELETE":
            self.kv.pop(key, None)
            return 200, True
        if query == "raw":
            return (200, self.kv[key]) if key in self.kv else (404, b"")
        if query == "keys":
            found = sorted(name for name in self.kv if name.startswith(key))
            return (200, found) if found else (404, b"")
        return 400, b"unexpected request"


STATS = {"name": "mh-keystore", "id": "8e9e05c52164694d", "state": "StateLeader", "leaderInfo": {"leader": "8e9e05c52164694d"}}
MEMBERS = {"members": [{"id": "8e9e05c52164694d", "name": "mh-keystore", "peerURLs": ["http://192.168.151.2:2380"],
                        "clientURLs": ["http://192.168.151.2:2379"]}]}
NOT_FOUND = {"errorCode": 100, "message": "Key not found", "cause": "/docker", "index": 3}


class EtcdServer(FakeServer):
    """An etcd 3.4 with (or without) its v2 API, holding keys in a dict."""

    def __init__(self, keys=(), v2=True, leader=True, accepts_writes=True, down=False):
        super().__init__(down)
        self.v2, self.leader, self.accepts_writes = v2, leader, accepts_writes
        self.kv = dict(("/docker/nodes/" + name, "x") for name in keys)

    def handle(self, method, path, data):
        if not self.v2:
            return 404, b"404 page not found\n"
        if path == "/v2/stats/self":
            return 200, STATS if self.leader else dict(STATS, leaderInfo={"leader": ""})
        if path == "/v2/members":
            return 200, MEMBERS
        key = path[len("/v2/keys"):]
        if method == "DELETE":
            return (200, {"action": "delete", "node": {"key": key}}) if self.kv.pop(key, None) else (404, NOT_FOUND)
        if method == "PUT":
            if not self.accepts_writes:
                return 403, {"errorCode": 107, "message": "read only"}
            self.kv[key] = data.split("value=", 1)[1]
            return 201, {"action": "set", "node": {"key": key, "value": self.kv[key]}}
        if key in self.kv:
            return 200, {"action": "get", "node": {"key": key, "value": self.kv[key]}}
        children = [{"key": name, "value": value} for name, value in sorted(self.kv.items()) if name.startswith(key + "/")]
        if children:
            return 200, {"action": "get", "node": {"key": key, "dir": True, "nodes": children}}
        return 404, NOT_FOUND


class FakeClock:
    """time.monotonic and time.sleep in one: sleeping only moves the clock on."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def run(capsys, server, **args):
    """The module's main() with `args` (one look: timeout 0 unless given) against `server`."""
    args = dict(dict(ETCD if args.get("backend") == "etcd" else CONSUL, timeout=0), **args)
    with patch_module_args(args), mock.patch.object(_store_client, "open_url", server), \
            mock.patch.object(keystore_wait.socket, "gethostname", return_value="mh-keystore"):
        with pytest.raises(SystemExit):
            keystore_wait.main()
    return json.loads(capsys.readouterr().out)


def wait(server, clock, check_mode=False, **args):
    """wait() with a fake clock; the module's defaults for what `args` leaves out."""
    params = dict(DEFAULTS, **dict(CONSUL, **args))
    with mock.patch.object(keystore_wait.socket, "gethostname", return_value="mh-keystore"):
        return keystore_wait.wait(params, check_mode, opener=server, clock=clock, sleep=clock.sleep)


# Consul --------------------------------------------------------------------------------------------------------


def test_consul_serves_stores_and_lists_the_engines(capsys):
    server = ConsulServer(keys=ENGINES)
    result = run(capsys, server, expect=ENGINES)
    assert "failed" not in result
    assert result == dict(result, changed=False, leader="192.168.151.2:8300", listed=ENGINES, missing=[], elapsed=0.0)
    assert server.calls[0] == ("GET", "/v1/status/leader")
    assert ("GET", "/v1/kv/docker/nodes/?keys") in server.calls


def test_consul_requests_go_direct_with_a_short_timeout(capsys):
    server = ConsulServer()
    run(capsys, server, timeout=60)
    assert all(options == dict(timeout=keystore_wait.REQUEST_TIMEOUT, use_proxy=False) for options in server.options)


def test_consul_waits_for_a_leader_polling_twice_a_second():
    server, clock = ConsulServer(leaders=["", "", "192.168.151.2:8300"]), FakeClock()
    result = wait(server, clock)
    assert result["leader"] == "192.168.151.2:8300"
    assert clock.sleeps == [0.5, 0.5] and result["elapsed"] == 1.0
    assert server.calls.count(("GET", "/v1/status/leader")) == 3
    assert server.methods().count("PUT") == 1  # no write before there is a leader


def test_consul_probe_is_written_once_and_read_back_raw():
    server, clock = ConsulServer(keys=ENGINES[:1]), FakeClock()
    params = dict(DEFAULTS, **CONSUL, expect=ENGINES, timeout=10)

    def register(seconds):  # the second engine registers while the module waits
        clock.sleep(seconds)
        server.kv["docker/nodes/" + ENGINES[1]] = b""

    store = _store_client.ConsulClient(params, server)
    waiter = keystore_wait.Waiter(store, params, False, clock=clock, sleep=register, stamp=lambda: 1.5)
    assert waiter.run()["listed"] == ENGINES
    assert server.calls[1:3] == [("PUT", "/v1/kv/mhnet/probe"), ("GET", "/v1/kv/mhnet/probe?raw")]
    assert server.kv["mhnet/probe"] == b"1.500000"
    assert server.methods().count("PUT") == 1  # the probe succeeded once: later polls only read


def test_consul_with_nothing_under_the_prefix_lists_nothing(capsys):
    server = ConsulServer()  # ?keys answers 404
    result = run(capsys, server, probe=False)
    assert "failed" not in result and result["listed"] == [] and result["missing"] == []


def test_consul_keys_are_relative_to_a_prefix_given_without_its_slash(capsys):
    server = ConsulServer(keys=ENGINES)
    server.kv["docker/nodesX/other"] = b""
    result = run(capsys, server, prefix="/docker/nodes", expect=ENGINES)
    assert result["listed"] == ENGINES
    assert ("GET", "/v1/kv/docker/nodes/?keys") in server.calls


def test_consul_expected_keys_missing_after_the_timeout_are_named_with_what_is_present():
    server, clock = ConsulServer(keys=ENGINES[:1]), FakeClock()
    with pytest.raises(_store_client.StoreError) as caught:
        wait(server, clock, expect=ENGINES, timeout=3)
    assert str(caught.value) == (
        "the consul keystore at http://192.168.151.2:8500 lists 1 of 2 expected keys under docker/nodes/ after 3 s: "
        "engines not registered: 192.168.151.4:2376; present: 192.168.151.3:2376; "
        "check cluster-advertise and the engines' logs")
    assert caught.value.result == dict(leader="192.168.151.2:8300", listed=ENGINES[:1], missing=ENGINES[1:], forgotten=[],
                                       elapsed=3.0)
    assert sum(clock.sleeps) == 3 and all(seconds <= 0.5 for seconds in clock.sleeps)


def test_a_failure_returns_what_was_seen(capsys):
    result = run(capsys, ConsulServer(), expect=ENGINES)
    assert result["failed"] is True and result["changed"] is False
    assert "engines not registered: 192.168.151.3:2376, 192.168.151.4:2376; present: nothing" in result["msg"]
    assert result["missing"] == ENGINES and result["listed"] == [] and result["leader"] == "192.168.151.2:8300"


def test_an_unreachable_store_is_named_with_its_address_port_and_the_host_that_tried(capsys):
    result = run(capsys, ConsulServer(down=True))
    assert result["failed"] is True
    assert result["msg"] == (
        "the consul keystore at http://192.168.151.2:8500 is unreachable from mh-keystore after 0 s (connection refused): "
        "check that it runs and listens on that address, and that nothing blocks port 8500")


@pytest.mark.parametrize("error, words", [
    (URLError(TimeoutError("timed out")), "(timed out)"),
    (URLError(OSError(113, "No route to host")), "(no route to host)"),
    (ConnectionResetError(104, "Connection reset by peer"), "(connection reset by peer)"),
])
def test_no_answer_of_any_kind_is_unreachable(capsys, error, words):
    with patch_module_args(dict(CONSUL, timeout=0)), mock.patch.object(_store_client, "open_url", side_effect=error):
        with pytest.raises(SystemExit):
            keystore_wait.main()
    msg = json.loads(capsys.readouterr().out)["msg"]
    assert "is unreachable from " in msg and words in msg and "port 8500" in msg


def test_unreachable_until_it_starts_then_waits_no_longer():
    server, clock = ConsulServer(down=True), FakeClock()
    original_sleep = clock.sleep

    def start(seconds):
        original_sleep(seconds)
        server.down = len(clock.sleeps) < 4

    clock.sleep = start
    result = wait(server, clock)
    assert result["leader"] == "192.168.151.2:8300" and result["elapsed"] == 2.0


def test_consul_without_a_leader_after_the_timeout():
    server, clock = ConsulServer(leaders=[""]), FakeClock()
    with pytest.raises(_store_client.StoreError) as caught:
        wait(server, clock, timeout=60)
    assert str(caught.value).startswith("the consul keystore at http://192.168.151.2:8500 has no leader after 60 s: ")
    assert len(clock.sleeps) == 120 and server.methods() == ["GET"] * 121  # every half second, nothing written


@pytest.mark.parametrize("server, outcome", [
    (ConsulServer(corrupts=True), "wrote '1.000000', read back 'garbled'"),
    (ConsulServer(accepts_writes=False), "the write was not accepted"),
])
def test_consul_probe_not_stored(server, outcome):
    params = dict(DEFAULTS, **CONSUL, timeout=0)
    clock = FakeClock()
    waiter = keystore_wait.Waiter(_store_client.ConsulClient(params, server), params, False, clock=clock,
                                  sleep=clock.sleep, stamp=lambda: 1.0)
    with pytest.raises(_store_client.StoreError) as caught:
        waiter.run()
    assert str(caught.value) == (
        "the consul keystore at http://192.168.151.2:8500 has a leader but did not store the probe key mhnet/probe "
        "after 0 s (%s): check the keystore container's logs (a read-only or full store?) and that nothing else "
        "writes mhnet/probe" % outcome)


def test_something_else_on_the_port_is_reported_as_such(capsys):
    server = ConsulServer()
    server.handle = lambda method, path, data: (200, b"<html>hello</html>")
    msg = run(capsys, server)["msg"]
    assert msg.startswith("after 0 s, the consul keystore at http://192.168.151.2:8500 answered GET /v1/status/leader "
                          "with HTTP 200 (<html>hello</html>): check that port 8500 is the consul server's client port")


@pytest.mark.parametrize("server", [ConsulServer(keys=ENGINES), EtcdServer(keys=ENGINES)], ids=["consul", "etcd"])
def test_check_mode_never_writes(capsys, server):
    backend = "etcd" if isinstance(server, EtcdServer) else "consul"
    result = run(capsys, server, backend=backend, expect=ENGINES, _ansible_check_mode=True)
    assert "failed" not in result and result["changed"] is False and result["listed"] == ENGINES
    assert server.methods() == ["GET"] * len(server.calls)


def test_probe_false_never_writes(capsys):
    server = ConsulServer()
    assert "failed" not in run(capsys, server, probe=False)
    assert "PUT" not in server.methods()


def test_a_second_run_reports_no_change_either(capsys):
    server = ConsulServer(keys=ENGINES)
    assert [run(capsys, server, expect=ENGINES)["changed"] for dummy in range(2)] == [False, False]


# etcd ----------------------------------------------------------------------------------------------------------


def test_etcd_serves_stores_and_lists_the_engines(capsys):
    server = EtcdServer(keys=ENGINES)
    result = run(capsys, server, backend="etcd", expect=ENGINES)
    assert "failed" not in result and result["changed"] is False
    assert result["leader"] == "192.168.151.2:2380"
    assert result["listed"] == ENGINES and result["missing"] == []
    assert ("PUT", "/v2/keys/mhnet/probe") in server.calls
    assert ("GET", "/v2/keys/docker/nodes") in server.calls


def test_etcd_with_nothing_registered_lists_nothing(capsys):
    result = run(capsys, EtcdServer(), backend="etcd")
    assert "failed" not in result and result["listed"] == []


@pytest.mark.parametrize("server, args, message", [
    (EtcdServer(v2=False), {}, "after 0 s, the etcd keystore at http://192.168.151.2:2379 answers without its v2 API "
                               "(HTTP 404 on /v2/stats/self): start etcd with --enable-v2=true"),
    (EtcdServer(leader=False), {}, "the etcd keystore at http://192.168.151.2:2379 has no leader after 0 s: "),
    (EtcdServer(accepts_writes=False), {}, "the etcd keystore at http://192.168.151.2:2379 has a leader but did not "
                                           "store the probe key mhnet/probe after 0 s (the write was not accepted)"),
    (EtcdServer(), dict(expect=ENGINES[:1]), "the etcd keystore at http://192.168.151.2:2379 lists 0 of 1 expected keys "
                                             "under docker/nodes/ after 0 s: engines not registered: 192.168.151.3:2376; "
                                             "present: nothing;"),
    (EtcdServer(down=True), {}, "the etcd keystore at http://192.168.151.2:2379 is unreachable from mh-keystore after "
                                "0 s (connection refused): check that it runs and listens on that address, and that "
                                "nothing blocks port 2379"),
])
def test_etcd_failures_say_what_where_and_what_to_do(capsys, server, args, message):
    result = run(capsys, server, backend="etcd", **args)
    assert result["failed"] is True
    assert result["msg"].startswith(message), result["msg"]


# Options -------------------------------------------------------------------------------------------------------


def test_zookeeper_is_not_a_backend(capsys):
    result = run(capsys, ConsulServer(), backend="zookeeper", port=2181)
    assert result["failed"] is True and "zookeeper" in result["msg"] and "consul, etcd" in result["msg"]


def test_the_port_is_required(capsys):
    with patch_module_args(dict(host="192.168.151.2")):
        with pytest.raises(SystemExit):
            keystore_wait.main()
    assert "missing required arguments: port" in json.loads(capsys.readouterr().out)["msg"]


def test_a_port_out_of_range_is_refused_before_any_request(capsys):
    server = ConsulServer()
    result = run(capsys, server, port=85000)
    assert result["msg"] == "port 85000 is not a TCP port: give the store's client port (1-65535)"
    assert server.calls == []


def test_an_ipv6_host_is_bracketed_in_the_url():
    store = _store_client.ConsulClient(dict(DEFAULTS, host="fd00::2", port=8500), ConsulServer())
    assert store.url == "http://[fd00::2]:8500"


@pytest.mark.parametrize("prefix, normal", [
    ("docker/nodes/", "docker/nodes/"), ("/docker/nodes", "docker/nodes/"), ("", ""), ("/", ""),
])
def test_normalize_prefix(prefix, normal):
    assert _store_client.normalize_prefix(prefix) == normal


# TLS and the ACL token --------------------------------------------------------------------------------------------

TLS = dict(tls_ca="/etc/docker/keystore-tls/ca.pem", tls_cert="/etc/docker/keystore-tls/cert.pem",
           tls_key="/etc/docker/keystore-tls/key.pem")
TOKEN = "6a1f3c2e-9b4d-4e2a-8f0c-1d2e3f4a5b6c"


def test_https_with_a_client_certificate_and_the_token_on_every_request():
    server = ConsulServer(keys=ENGINES)
    wait(server, FakeClock(), port=8501, expect=ENGINES, token=TOKEN, **TLS)
    assert server.sent and all(option["url"].startswith("https://192.168.151.2:8501/") for option in server.sent)
    for option in server.sent:
        assert option["headers"]["X-Consul-Token"] == TOKEN
        assert (option["ca_path"], option["client_cert"], option["client_key"]) == (
            TLS["tls_ca"], TLS["tls_cert"], TLS["tls_key"])
        assert option["validate_certs"] is True


def test_without_tls_or_token_plain_http_and_no_header():
    server = ConsulServer(keys=ENGINES)
    wait(server, FakeClock())
    assert all(option["url"].startswith("http://") and "ca_path" not in option for option in server.sent)
    assert all(not (option["headers"] or {}).get("X-Consul-Token") for option in server.sent)


def test_a_refused_token_says_so(capsys):
    class Denying(ConsulServer):
        def handle(self, method, path, data):
            return (403, b"Permission denied") if path.startswith("/v1/kv/docker") else super().handle(method, path, data)

    result = run(capsys, Denying(), probe=False, token=TOKEN)
    assert result["failed"] is True
    assert "HTTP 403 (Permission denied)" in result["msg"] and "ACL token" in result["msg"]
    assert TOKEN not in json.dumps(result)


def test_the_token_is_never_in_the_result(capsys):
    result = run(capsys, ConsulServer(keys=ENGINES), token=TOKEN)
    assert "failed" not in result and TOKEN not in json.dumps(result)


def test_a_token_with_etcd_is_refused(capsys):
    result = run(capsys, EtcdServer(), backend="etcd", token=TOKEN)
    assert result["failed"] is True and "Consul's ACL token" in result["msg"]


def test_a_client_certificate_needs_its_key_and_the_ca(capsys):
    result = run(capsys, ConsulServer(), tls_cert="/c.pem")
    assert result["failed"] is True and "tls_cert" in result["msg"] and "tls_key" in result["msg"]


# Engines that left -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("server", [ConsulServer, EtcdServer])
def test_an_engine_that_left_is_forgotten_once_and_the_others_stay(capsys, server):
    store = server(keys=ENGINES + ["192.168.151.5:2376"])
    backend = dict(backend="etcd") if server is EtcdServer else {}
    result = run(capsys, store, probe=False, expect=ENGINES, forget=["192.168.151.5:2376", "192.168.151.9:2376"], **backend)
    assert result["changed"] is True and result["forgotten"] == ["192.168.151.5:2376"]
    assert result["listed"] == ENGINES and result["missing"] == []
    again = run(capsys, store, probe=False, forget=["192.168.151.5:2376"], **backend)
    assert again["changed"] is False and again["forgotten"] == []


def test_check_mode_forgets_nothing_but_says_what_it_would(capsys):
    store = ConsulServer(keys=ENGINES)
    result = run(capsys, store, probe=False, forget=[ENGINES[1]], _ansible_check_mode=True)
    assert result["changed"] is True and result["forgotten"] == [ENGINES[1]]
    assert "DELETE" not in store.methods() and result["listed"] == ENGINES
