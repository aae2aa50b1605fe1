"""A small Consul on 127.0.0.1 (a real http.server, HTTP or HTTPS with a client certificate) for the store client's
tests and the keystore modules': key-value, status, snapshot and ACL endpoints over dicts, every request recorded."""

import json
import ssl
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

import pytest


class ConsulState:
    """What the fake Consul holds and what it was asked."""

    def __init__(self):
        self.kv = {}
        self.policies = {}  # ID -> policy
        self.tokens = {}  # AccessorID -> token
        self.management = "mgmt-secret"  # None: ACLs off, any token accepted
        self.requests = []  # (method, path, X-Consul-Token)
        self.snapshot = b"SNAPSHOT-BYTES"

    def token_for(self, secret):
        return next((token for token in self.tokens.values() if token["SecretID"] == secret), None)


class ConsulHandler(BaseHTTPRequestHandler):
    state = None  # set per server

    def log_message(self, *args):  # quiet
        pass

    def answer(self, status, body=b"", headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self, method):
        state = self.state
        url = urlparse(self.path)
        path, query = url.path, url.query
        token = self.headers.get("X-Consul-Token")
        state.requests.append((method, self.path, token))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if path == "/v1/status/leader":
            return self.answer(200, "127.0.0.1:8300")
        if path.startswith("/v1/kv/"):
            key = unquote(path[len("/v1/kv/"):])
            if method == "PUT":
                state.kv[key] = body
                return self.answer(200, b"true")
            if method == "DELETE":
                state.kv.pop(key, None)
                return self.answer(200, b"true")
            if query == "keys":
                found = sorted(name for name in state.kv if name.startswith(key))
                return self.answer(200, found) if found else self.answer(404)
            if key in state.kv:
                return self.answer(200, state.kv[key])
            return self.answer(404)
        if path == "/v1/acl/token/self":
            found = state.token_for(token)
            return self.answer(200, found) if found else self.answer(403, b"ACL not found")
        if state.management and token != state.management:
            return self.answer(403, b"Permission denied")
        if path == "/v1/snapshot":
            if method == "PUT":
                state.snapshot = body
                return self.answer(200)
            return self.answer(200, state.snapshot, {"X-Consul-Index": "42"})
        if path.startswith("/v1/acl/policy/name/"):
            name = unquote(path[len("/v1/acl/policy/name/"):])
            found = next((policy for policy in state.policies.values() if policy["Name"] == name), None)
            return self.answer(200, found) if found else self.answer(403, b"ACL not found")
        if path.startswith("/v1/acl/policy"):
            policy = json.loads(body)
            policy["ID"] = path[len("/v1/acl/policy/"):] or str(uuid.uuid4())
            state.policies[policy["ID"]] = policy
            return self.answer(200, policy)
        if path.startswith("/v1/acl/token"):
            token = json.loads(body)
            accessor = path[len("/v1/acl/token/"):] or str(uuid.uuid4())
            token["AccessorID"] = accessor
            token["Policies"] = [dict(policy, ID="id-" + policy["Name"]) for policy in token.get("Policies", [])]
            state.tokens[accessor] = token
            return self.answer(200, token)
        return self.answer(404, b"no such endpoint")

    def do_GET(self):
        self.handle_any("GET")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")


def _serve(context=None):
    state = ConsulState()
    handler = type("Handler", (ConsulHandler,), dict(state=state))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if context:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True)
    thread.start()
    state.port = server.server_address[1]
    return server, state


@pytest.fixture
def consul():
    """A fake Consul over HTTP on 127.0.0.1; the fixture is its state (port, kv, policies, tokens, requests)."""
    server, state = _serve()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A CA, the server's certificate for 127.0.0.1 and a client certificate, made with openssl."""
    directory = tmp_path_factory.mktemp("tls")

    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, extension in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + "-key.pem", "-out", name + ".csr",
            "-subj", "/CN=" + name)
        (directory / (name + ".ext")).write_text(extension + "\n")
        run("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext")
    return {name: str(directory / name) for name in
            ("ca.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem")}


@pytest.fixture
def consul_tls(tls_files):
    """A fake Consul over HTTPS on 127.0.0.1 that requires a client certificate signed by the test CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files["server.pem"], tls_files["server-key.pem"])
    context.load_verify_locations(tls_files["ca.pem"])
    context.verify_mode = ssl.CERT_REQUIRED
    server, state = _serve(context)
    yield state
    server.shutdown()
    server.server_close()
