"""TLS between the engines and Consul, Consul's ACLs, and no secret in a verbose run's output.

The tutorial's cross-host checks are the shared ones (imported below); the checks that talk to Consul are this
scenario's own, over HTTPS with the test CA and a client certificate made by prepare.yml.
"""

import glob
import http.client
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tests"))
# The tutorial's checks that do not talk to Consul themselves, with their fixtures.
from test_tutorial import (  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
    backend,
    engines,
    test_busybox_on_another_engine_fetches_the_page_from_web,
    test_my_net_has_one_id_and_global_scope_on_every_engine,
    test_the_users_daemon_json_key_survives_and_the_engine_uses_it,
    test_web_is_on_my_net_with_mtu_1450_and_on_docker_gwbridge,
)

SECURE = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "secure")
HTTPS_PORT = 8501
TLS_DIR = "/etc/docker/keystore-tls"


def secret(name):
    with open(os.path.join(SECURE, name)) as handle:
        return handle.read().strip()


@pytest.fixture(scope="module")
def keystore_address(lab_vars, lab_groups):
    return lab_vars[lab_groups["keystore"][0]]["mhnet_cluster_address"]


@pytest.fixture(scope="module")
def engine_addresses(lab_vars, lab_groups):
    return [lab_vars[name]["mhnet_cluster_address"] for name in lab_groups["docker_hosts"]]


def context(client_cert=True):
    """The test CA; with client_cert, mhs-demo0's certificate and key."""
    found = ssl.create_default_context(cafile=os.path.join(SECURE, "ca.pem"))
    if client_cert:
        found.load_cert_chain(os.path.join(SECURE, "mhs-demo0.pem"), os.path.join(SECURE, "mhs-demo0-key.pem"))
    return found


def consul(address, path, token=None, method="GET", data=None, client_cert=True):
    """(status, body) of one HTTPS request to Consul."""
    request = urllib.request.Request("https://%s:%d%s" % (address, HTTPS_PORT, path), data=data, method=method,
                                     headers={"X-Consul-Token": token} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context(client_cert)) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_consul_refuses_plain_http(keystore_address):
    # Consul's HTTP port is off, and its HTTPS port does not answer plain HTTP with data.
    with pytest.raises(OSError):
        http.client.HTTPConnection(keystore_address, 8500, timeout=5).request("GET", "/v1/status/leader")
    connection = http.client.HTTPConnection(keystore_address, HTTPS_PORT, timeout=5)
    connection.request("GET", "/v1/kv/docker/nodes/?keys")
    answer = connection.getresponse()
    assert answer.status == 400, (answer.status, answer.read())


def test_consul_refuses_a_client_without_a_certificate(keystore_address):
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionResetError)):
        consul(keystore_address, "/v1/kv/docker/nodes/?keys", token=secret("engine-token"), client_cert=False)


def test_consul_refuses_a_request_without_the_token(keystore_address):
    # The anonymous token may read nothing: Consul filters the listing to nothing (404) and refuses writes (403).
    assert consul(keystore_address, "/v1/kv/docker/nodes/?keys")[0] == 404
    assert consul(keystore_address, "/v1/kv/docker/nodes/?keys", token=secret("engine-token"))[0] == 200
    assert consul(keystore_address, "/v1/kv/docker/mhnet-test", method="PUT", data=b"x")[0] == 403


def test_the_engines_token_reads_and_writes_docker_keys_only(keystore_address, engine_addresses):
    token = secret("engine-token")
    status, body = consul(keystore_address, "/v1/kv/docker/nodes/?keys", token=token)
    assert status == 200
    assert {"docker/nodes/%s:2376" % address for address in engine_addresses} <= set(json.loads(body))
    assert consul(keystore_address, "/v1/kv/mhnet-test", token=token, method="PUT", data=b"x")[0] == 403
    assert consul(keystore_address, "/v1/acl/tokens", token=token)[0] == 403


def test_the_engines_daemon_json_has_the_tls_options(engines, keystore_address):
    for engine in engines:
        config = json.loads(engine.check_output("cat /etc/docker/daemon.json"))
        assert config["cluster-store"] == "consul://%s:%d" % (keystore_address, HTTPS_PORT)
        assert config["cluster-store-opts"] == {"kv.cacertfile": TLS_DIR + "/ca.pem", "kv.certfile": TLS_DIR + "/cert.pem",
                                                "kv.keyfile": TLS_DIR + "/key.pem"}


def test_keys_and_tokens_are_root_only_on_the_hosts(engines, lab_hosts, lab_groups):
    for engine in engines:
        assert engine.file(TLS_DIR + "/key.pem").mode == 0o600
        assert engine.file(TLS_DIR + "/key.pem").user == "root"
        assert engine.file("/etc/docker/keystore-token.env").mode == 0o600
        # The unit names the file, never the token.
        assert secret("engine-token") not in engine.check_output("systemctl show docker --property=Environment")
    keystore = lab_hosts[lab_groups["keystore"][0]]
    assert keystore.file("/etc/mhnet/keystore/tls/key.pem").mode == 0o600
    assert keystore.file("/etc/mhnet/keystore/security.hcl").mode == 0o600


@pytest.mark.parametrize("extra, message", [
    ({"mhnet_keystore_tls": {"ca": os.path.join(SECURE, "ca.pem"), "cert": os.path.join(SECURE, "mhs-demo0.pem"),
                             "key": os.path.join(SECURE, "no-such-key.pem")}},
     "mhs-demo0: mhnet_keystore_tls.key %s is not a file on the controller" % os.path.join(SECURE, "no-such-key.pem")),
    ({"engine_keystore_token": "00000000-0000-4000-8000-000000000000"},
     "mhs-demo0: engine_keystore_token differs from keystore_acl_engine_token"),
], ids=["missing-key-file", "other-engine-token"])
def test_bad_security_input_is_refused_before_any_change(run_site, engines, extra, message):
    before = [engine.check_output("sha256sum /etc/docker/daemon.json /etc/docker/keystore-token.env") for engine in engines]
    code, output = run_site("-e", json.dumps(extra))
    assert code != 0
    # The plan's one failure: its `fatal:` line carries the problems as JSON (the [ERROR] block wraps them).
    failures = [line.split(" => ", 1)[1] for line in output.splitlines()
                if line.startswith("fatal: [") and "problem(s); nothing was changed" in line]
    assert len(failures) == 1, output[-3000:]
    problems = json.loads(failures[0])["problems"]
    assert any(problem.startswith(message) for problem in problems), problems
    assert [engine.check_output("sha256sum /etc/docker/daemon.json /etc/docker/keystore-token.env")
            for engine in engines] == before


def secrets():
    """The tokens and every line of every private key's body, as a leak would show them."""
    found = {"master token": secret("master-token"), "engine token": secret("engine-token")}
    for path in glob.glob(os.path.join(SECURE, "*-key.pem")):
        with open(path) as handle:
            lines = [line.strip() for line in handle if line.strip() and not line.startswith("-----")]
        for number, line in enumerate(lines):
            found["%s line %d" % (os.path.basename(path), number + 1)] = line
    return found


def test_a_verbose_rerun_shows_no_secret(run_site):
    code, output = run_site("-vvv", "--diff")
    assert code == 0, output[-3000:]
    assert "PLAY RECAP" in output and "keystore_wait" in output
    leaked = sorted(name for name, value in secrets().items() if len(value) >= 16 and value in output)
    assert leaked == [], "secrets in the -vvv --diff output of site.yml: %s" % ", ".join(leaked)
