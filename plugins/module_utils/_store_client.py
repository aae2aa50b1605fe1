# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one HTTP client of the keystore (Consul's HTTP API, etcd's v2 API) that every keystore module uses.

Standard library and ansible.module_utils.urls only: it runs on cluster hosts. Its options (KEYSTORE_ARGS) are
documented once, in doc_fragments/keystore.py."""

from __future__ import annotations

import copy
import json
import time
from collections import namedtuple
from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlparse

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError

# The connection options every keystore module takes (doc_fragments/keystore.py documents them).
KEYSTORE_ARGS = dict(
    backend=dict(type="str", choices=["consul", "etcd"], default="consul"),
    host=dict(type="str", required=True),
    port=dict(type="int", required=True),
    tls_ca=dict(type="path"),
    tls_cert=dict(type="path"),
    tls_key=dict(type="path", no_log=False),
    token=dict(type="str", no_log=True),
    timeout=dict(type="int", default=60),
)
KEYSTORE_REQUIRED_TOGETHER = [["tls_cert", "tls_key"]]
KEYSTORE_REQUIRED_BY = dict(tls_cert="tls_ca")

PROBE_KEY = "mhnet/probe"

Answer = namedtuple("Answer", "status body headers")


def keystore_module_args(**options):
    """AnsibleModule's keyword arguments for a keystore module: the shared connection options plus `options`."""
    spec = copy.deepcopy(KEYSTORE_ARGS)
    spec.update(options)
    return dict(argument_spec=spec, required_together=copy.deepcopy(KEYSTORE_REQUIRED_TOGETHER),
                required_by=copy.deepcopy(KEYSTORE_REQUIRED_BY), supports_check_mode=True)


class StoreError(MhnetError):
    """The store refused or could not serve a request; the message names it. `result` goes into fail_json."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.result = result


class Unreachable(StoreError):
    """No HTTP answer at all (refused, timed out, no route); `reason` says which, in words."""

    def __init__(self, msg, reason):
        super().__init__(msg)
        self.reason = reason


def reason(exc):
    """'connection refused', 'timed out', ... from a urllib or socket error."""
    cause = exc.reason if isinstance(exc, URLError) and not isinstance(exc, HTTPError) else exc
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    return (str(cause) or cause.__class__.__name__).lower()


def normalize_prefix(prefix):
    """'docker/nodes' and '/docker/nodes/' both mean 'docker/nodes/'; '' means every key."""
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""


def store_endpoint(params):
    """(base URL, open_url's TLS options) of the store that params (host, port, tls_ca, tls_cert, tls_key) name:
    HTTPS checked against tls_ca (with the client certificate when given), else plain HTTP."""
    host = params["host"]
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host  # an IPv6 address
    tls = dict(validate_certs=True, ca_path=params["tls_ca"], client_cert=params.get("tls_cert"),
               client_key=params.get("tls_key")) if params.get("tls_ca") else {}
    return "%s://%s:%d" % ("https" if tls else "http", host, params["port"]), tls


class StoreClient:
    """What both backends share: the base URL, the token and one HTTP request bounded by the operation's deadline.

    `timeout` (params) bounds the whole operation: no request outlives it; `request_timeout` caps each request
    further (a wait that asks again rather than hangs on one request)."""

    backend = ""
    token_header = ""

    def __init__(self, params, opener=None, request_timeout=None, clock=time.monotonic):
        self.url, self.tls = store_endpoint(params)
        self.token = params.get("token") or ""
        self.opener = opener or open_url
        self.request_timeout = request_timeout
        self.clock = clock
        self.deadline = clock() + params["timeout"]

    @property
    def where(self):
        return "the %s keystore at %s" % (self.backend, self.url)

    def request(self, path, method="GET", data=None, content_type=None, token=None):
        """Answer(status, body, headers); an HTTP error status is an answer, no answer raises Unreachable.
        `token` replaces the client's token for this request (Consul's token/self reads the token it is sent)."""
        headers = {"Content-Type": content_type} if content_type else {}
        token = self.token if token is None else token
        if token:
            headers[self.token_header] = token
        timeout = max(self.deadline - self.clock(), 1)
        if self.request_timeout:
            timeout = min(timeout, self.request_timeout)
        try:
            response = self.opener(self.url + path, data=data, method=method, headers=headers or None,
                                   timeout=timeout, use_proxy=False, **self.tls)
            return Answer(response.getcode(), response.read(), getattr(response, "headers", None) or {})
        except HTTPError as exc:
            return Answer(exc.code, exc.read(), exc.headers or {})
        except (URLError, OSError, HTTPException, UrlsConnectionError) as exc:
            why = reason(exc)
            if "certificate" in why or "ssl" in why:
                hint = ("check tls_ca (the CA that signed the store's certificate, which must name the address "
                        "used), and tls_cert and tls_key when the store requires a client certificate")
            else:
                hint = "check that it runs and listens on that address and that nothing blocks port %s" % (
                    urlparse(self.url).port)
            raise Unreachable("%s does not answer %s %s (%s): %s" % (self.where, method, path, why, hint),
                              why) from exc

    def answer_error(self, method, path, answer, hint=None):
        text = answer.body.decode("utf-8", "replace").strip()[:200] if answer.body else ""
        if hint is None and answer.status in (401, 403):
            hint = "the store refused the request's ACL token (or its absence): check the token given and its rights"
        if hint is None:
            hint = "check that port %s is the %s server's client port and the keystore container's logs" % (
                urlparse(self.url).port, self.backend)
        return StoreError("%s answered %s %s with HTTP %d (%s): %s" % (
            self.where, method, path, answer.status, text or "empty body", hint))

    def json_answer(self, method, path, answer, hint=None):
        """The decoded JSON body of a 200 answer, else StoreError."""
        try:
            if answer.status == 200:
                return json.loads(answer.body)
        except ValueError:
            pass
        raise self.answer_error(method, path, answer, hint)


class ConsulClient(StoreClient):
    """Consul through its HTTP API: status, key-value, snapshots and ACLs."""

    backend = "consul"
    token_header = "X-Consul-Token"

    def leader(self):
        answer = self.request("/v1/status/leader")
        try:
            leader = json.loads(answer.body) if answer.status == 200 else None
        except ValueError:
            leader = None
        if not isinstance(leader, str):
            raise self.answer_error("GET", "/v1/status/leader", answer)
        return leader

    def probe(self, value):
        """The value read back after writing `value`; None when the write was not accepted."""
        answer = self.request("/v1/kv/" + PROBE_KEY, method="PUT", data=value.encode())
        if answer.status != 200 or answer.body.strip() != b"true":
            return None
        answer = self.request("/v1/kv/%s?raw" % PROBE_KEY)
        return answer.body.decode("utf-8", "replace") if answer.status == 200 else None

    def keys(self, prefix):
        """The keys under `prefix` (normalized), relative to it, sorted."""
        path = "/v1/kv/%s?keys" % quote(prefix, safe="/:")
        answer = self.request(path)
        if answer.status == 404:  # nothing under the prefix yet
            return []
        keys = self.json_answer("GET", path, answer)
        if not isinstance(keys, list):
            raise self.answer_error("GET", path, answer)
        return sorted(key[len(prefix):] for key in keys if key.startswith(prefix))

    def delete(self, key):
        path = "/v1/kv/%s" % quote(key, safe="/:")
        answer = self.request(path, method="DELETE")
        if answer.status != 200:
            raise self.answer_error("DELETE", path, answer)

    def save_snapshot(self):
        """(snapshot bytes, Raft index) of GET /v1/snapshot."""
        answer = self.request("/v1/snapshot")
        if answer.status != 200:
            raise self.answer_error("GET", "/v1/snapshot", answer, self._snapshot_hint(answer))
        if not answer.body:
            raise StoreError("%s sent an empty snapshot: check the keystore container's logs" % self.where)
        return answer.body, answer.headers.get("X-Consul-Index", "")

    def restore_snapshot(self, data):
        answer = self.request("/v1/snapshot", method="PUT", data=data, content_type="application/octet-stream")
        if answer.status != 200:
            raise self.answer_error("PUT", "/v1/snapshot", answer, self._snapshot_hint(answer))

    @staticmethod
    def _snapshot_hint(answer):
        if answer.status in (401, 403):
            return "the store refused the ACL token (or its absence): snapshots need Consul's management token"
        return "check the keystore container's logs"

    def policy(self, name):
        """The ACL policy called `name`, or None when Consul has none."""
        path = "/v1/acl/policy/name/" + quote(name, safe="")
        answer = self.request(path)
        if answer.status == 404 or answer.status == 403 and b"not found" in answer.body.lower():
            return None  # a bad management token is refused by put_policy, with the hint
        return self.json_answer("GET", path, answer)

    def put_policy(self, policy, policy_id=None):
        """Create `policy`, or replace the one whose ID is `policy_id`."""
        path = "/v1/acl/policy" + ("/" + quote(policy_id, safe="") if policy_id else "")
        answer = self.request(path, method="PUT", data=json.dumps(policy).encode(), content_type="application/json")
        return self.json_answer("PUT", path, answer)

    def token_self(self, secret):
        """The ACL token whose secret is `secret` (read with itself), or None when Consul does not know it."""
        answer = self.request("/v1/acl/token/self", token=secret)
        if answer.status in (403, 404):
            return None
        return self.json_answer("GET", "/v1/acl/token/self", answer)

    def put_token(self, token, accessor_id=None):
        """Create `token`, or replace the one whose accessor ID is `accessor_id`."""
        path = "/v1/acl/token" + ("/" + quote(accessor_id, safe="") if accessor_id else "")
        answer = self.request(path, method="PUT", data=json.dumps(token).encode(), content_type="application/json")
        return self.json_answer("PUT", path, answer)


class EtcdClient(StoreClient):
    """etcd through its v2 HTTP API, the one Docker's cluster store uses."""

    backend = "etcd"

    def json_request(self, path, method="GET", data=None):
        """(HTTP status, decoded JSON body)."""
        content_type = "application/x-www-form-urlencoded" if data is not None else None
        answer = self.request(path, method=method, data=data, content_type=content_type)
        try:
            return answer.status, json.loads(answer.body or b"{}")
        except ValueError:
            if answer.status == 404:  # a path this server does not serve, for example the v2 API when it is off
                return answer.status, {}
            raise self.answer_error(method, path, answer) from None

    @staticmethod
    def key_path(key):
        return "/v2/keys/" + quote(key.strip("/"), safe="/:")

    def leader(self):
        status, stats = self.json_request("/v2/stats/self")
        if status == 404:
            raise StoreError("%s answers without its v2 API (HTTP 404 on /v2/stats/self): start etcd with "
                             "--enable-v2=true, the API Docker's cluster-store uses" % self.where)
        leader_id = (stats.get("leaderInfo") or {}).get("leader") or ""
        if status != 200 or not leader_id:
            return ""
        dummy, members = self.json_request("/v2/members")
        for member in members.get("members") or []:
            if member.get("id") == leader_id:
                peer = urlparse((member.get("peerURLs") or [""])[0]).netloc
                return peer or member.get("name") or leader_id
        return leader_id

    def probe(self, value):
        status, dummy = self.json_request(self.key_path(PROBE_KEY), method="PUT", data=urlencode({"value": value}))
        if status not in (200, 201):
            return None
        status, answer = self.json_request(self.key_path(PROBE_KEY))
        return (answer.get("node") or {}).get("value") if status == 200 else None

    def keys(self, prefix):
        path = self.key_path(prefix)
        status, answer = self.json_request(path)
        if status == 404 and answer.get("errorCode") == 100:  # key not found: nothing registered yet
            return []
        if status != 200:
            raise StoreError("%s answered GET %s with HTTP %d (%s): check the keystore container's logs" % (
                self.where, path, status, answer.get("message", answer)))
        start = len("/" + prefix)
        return sorted(child["key"][start:] for child in (answer.get("node") or {}).get("nodes") or [])

    def delete(self, key):
        path = self.key_path(key)
        status, answer = self.json_request(path, method="DELETE")
        if status != 200 and not (status == 404 and answer.get("errorCode") == 100):
            raise StoreError("%s answered DELETE %s with HTTP %d (%s): check the keystore container's logs" % (
                self.where, path, status, answer.get("message", answer)))


CLIENTS = dict(consul=ConsulClient, etcd=EtcdClient)


def store_client(params, opener=None, request_timeout=None, clock=time.monotonic):
    """The client of the store that the connection options in `params` name, after checking them."""
    if not 0 < params["port"] < 65536:
        raise StoreError("port %d is not a TCP port: give the store's client port (1-65535)" % params["port"])
    if params.get("token") and params["backend"] != "consul":
        raise StoreError("token is Consul's ACL token and the backend is %s: remove token" % params["backend"])
    return CLIENTS[params["backend"]](params, opener, request_timeout=request_timeout, clock=clock)
