"""The store client against a real HTTP(S) server on 127.0.0.1 (conftest.py's fake Consul), and its pure helpers."""

import socket

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils import _store_client
from ansible_collections.mhnet.cluster.plugins.module_utils._store_client import (
    ConsulClient, EtcdClient, StoreError, Unreachable, store_client, store_endpoint)


def params(port, **changes):
    result = dict(backend="consul", host="127.0.0.1", port=port, tls_ca=None, tls_cert=None, tls_key=None, token=None,
                  timeout=10)
    result.update(changes)
    return result


def test_consul_over_http_leader_probe_keys_delete_with_the_token(consul):
    client = store_client(params(consul.port, token="mgmt-secret"))
    assert client.leader() == "127.0.0.1:8300"
    assert client.probe("1.5") == "1.5"
    consul.kv.update({"docker/nodes/10.0.0.3:2376": b"", "docker/nodes/10.0.0.4:2376": b"", "other": b""})
    assert client.keys("docker/nodes/") == ["10.0.0.3:2376", "10.0.0.4:2376"]
    client.delete("docker/nodes/10.0.0.3:2376")
    assert client.keys("docker/nodes/") == ["10.0.0.4:2376"]
    assert client.keys("nothing/here/") == []
    assert {token for dummy, dummy, token in consul.requests} == {"mgmt-secret"}


def test_consul_over_https_with_a_client_certificate(consul_tls, tls_files):
    client = store_client(params(consul_tls.port, tls_ca=tls_files["ca.pem"], tls_cert=tls_files["client.pem"],
                                 tls_key=tls_files["client-key.pem"], token="mgmt-secret"))
    assert client.url == "https://127.0.0.1:%d" % consul_tls.port
    assert client.save_snapshot() == (b"SNAPSHOT-BYTES", "42")


def test_https_with_another_ca_says_to_check_the_tls_options(consul_tls, tls_files):
    client = store_client(params(consul_tls.port, tls_ca=tls_files["client.pem"], tls_cert=tls_files["client.pem"],
                                 tls_key=tls_files["client-key.pem"], timeout=5))
    with pytest.raises(Unreachable, match=r"certificate verify failed.*\): check tls_ca"):
        client.leader()


def test_https_without_the_client_certificate_is_no_answer(consul_tls, tls_files):
    client = store_client(params(consul_tls.port, tls_ca=tls_files["ca.pem"], timeout=5))
    with pytest.raises(Unreachable, match=r"the consul keystore at https://127.0.0.1:%d does not answer GET "
                                          r"/v1/status/leader" % consul_tls.port):
        client.leader()


def test_a_closed_port_is_unreachable_and_the_message_names_the_store():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Unreachable) as caught:
        store_client(params(port)).leader()
    assert caught.value.reason == "connection refused"
    assert str(caught.value).startswith("the consul keystore at http://127.0.0.1:%d does not answer GET "
                                        "/v1/status/leader (connection refused): " % port)


def test_a_refused_token_says_so_and_names_the_request(consul):
    with pytest.raises(StoreError, match=r"at http://127.0.0.1:\d+ answered GET /v1/snapshot with HTTP 403 "
                                         r"\(Permission denied\): .*management token"):
        store_client(params(consul.port, token="wrong")).save_snapshot()


def test_restore_puts_the_bytes(consul):
    store_client(params(consul.port, token="mgmt-secret")).restore_snapshot(b"NEW")
    assert consul.snapshot == b"NEW" and consul.requests[-1][:2] == ("PUT", "/v1/snapshot")


def test_policy_absent_is_none_and_put_policy_creates_then_replaces(consul):
    client = store_client(params(consul.port, token="mgmt-secret"))
    assert client.policy("mhnet-engines") is None
    created = client.put_policy(dict(Name="mhnet-engines", Rules="a"))
    assert client.policy("mhnet-engines")["Rules"] == "a"
    client.put_policy(dict(Name="mhnet-engines", Rules="b"), created["ID"])
    assert [policy["Rules"] for policy in consul.policies.values()] == ["b"]
    assert consul.requests[-1][:2] == ("PUT", "/v1/acl/policy/" + created["ID"])


def test_token_self_is_read_with_the_token_itself(consul):
    client = store_client(params(consul.port, token="mgmt-secret"))
    assert client.token_self("engine-secret") is None
    client.put_token(dict(SecretID="engine-secret", Policies=[dict(Name="p")]))
    assert client.token_self("engine-secret")["SecretID"] == "engine-secret"
    assert consul.requests[-1] == ("GET", "/v1/acl/token/self", "engine-secret")


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Answer:
    def getcode(self):
        return 200

    def read(self):
        return b'"10.0.0.2:8300"'


@pytest.mark.parametrize("elapsed, request_timeout, expected", [
    (0, None, 30),  # one request may take the whole operation
    (0, 5, 5),  # capped
    (28, 5, 2),  # never past the operation's deadline
    (40, 5, 1),  # past it: one short last try, not zero (which urllib reads as no timeout)
])
def test_each_request_is_bounded_by_the_operations_timeout(elapsed, request_timeout, expected):
    clock, timeouts = Clock(), []

    def opener(url, timeout=None, **kwargs):
        timeouts.append(timeout)
        return Answer()

    client = store_client(params(8500, timeout=30), opener, request_timeout=request_timeout, clock=clock)
    clock.now += elapsed
    client.leader()
    assert timeouts == [expected]


@pytest.mark.parametrize("changes, url, tls", [
    (dict(), "http://127.0.0.1:8500", {}),
    (dict(host="fd00::2"), "http://[fd00::2]:8500", {}),
    (dict(tls_ca="/ca"), "https://127.0.0.1:8500",
     dict(validate_certs=True, ca_path="/ca", client_cert=None, client_key=None)),
    (dict(tls_ca="/ca", tls_cert="/c", tls_key="/k"), "https://127.0.0.1:8500",
     dict(validate_certs=True, ca_path="/ca", client_cert="/c", client_key="/k")),
])
def test_store_endpoint(changes, url, tls):
    assert store_endpoint(params(8500, **changes)) == (url, tls)


@pytest.mark.parametrize("changes, message", [
    (dict(port=0), "port 0 is not a TCP port"),
    (dict(port=70000), "port 70000 is not a TCP port"),
    (dict(backend="etcd", token="t"), "token is Consul's ACL token and the backend is etcd"),
])
def test_store_client_refuses_bad_options_before_any_request(changes, message):
    with pytest.raises(StoreError, match=message):
        store_client(dict(params(8500), **changes), opener=None)


def test_the_backend_chooses_the_client():
    assert isinstance(store_client(params(8500)), ConsulClient)
    assert isinstance(store_client(params(2379, backend="etcd")), EtcdClient)


def test_module_args_are_copies_with_the_modules_own_options():
    first = _store_client.keystore_module_args(extra=dict(type="str"))
    first["argument_spec"]["timeout"]["default"] = 1
    second = _store_client.keystore_module_args()
    assert second["argument_spec"]["timeout"]["default"] == 60 and "extra" not in second["argument_spec"]
    assert second["argument_spec"]["token"]["no_log"] is True
