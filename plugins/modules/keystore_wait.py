#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: keystore_wait
short_description: Wait until a Consul or etcd keystore serves, stores a key and lists the engines registered in it
version_added: 0.2.0
description:
  - Waits until the key-value store the engines share serves (it has an elected leader) and, with O(probe), until a
    key can be written and read back.
  - Lists the keys under O(prefix) (Docker registers engines under C(docker/nodes/)) and, with O(expect), waits until
    every expected key is there.
  - Meant to run on a cluster host (delegate it to the keystore host or to an engine), which reaches the store's
    cluster address as the engines do. It speaks HTTP, or HTTPS with O(tls_ca) (and a client certificate with
    O(tls_cert) and O(tls_key)), with Python's standard library, so the host needs nothing else; the controller needs
    nothing beyond Ansible. No proxy is used.
  - With O(token), every request carries Consul's ACL token (header C(X-Consul-Token)).
  - "Consul: its HTTP API (C(/v1/status/leader), C(/v1/kv/)). etcd: its v2 HTTP API (C(/v2/stats/self),
    C(/v2/members), C(/v2/keys)), the API Docker's cluster store speaks, so etcd 3.x must run with
    C(--enable-v2=true)."
  - "ZooKeeper is not supported: as a cluster store it is broken upstream
    (U(https://github.com/moby/libnetwork/issues/2006))."
  - With O(forget), deletes those keys under O(prefix) (engines that left the cluster; Docker never removes its
    own), and reports a change when one was there.
  - The probe key C(mhnet/probe) is the module's own scratch key. Writing it is not reported as a change.
extends_documentation_fragment:
  - mhnet.cluster.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the probe key is not written and no key is forgotten; the module only reads.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - The module's own probe key is not counted as a change; a forgotten key is, once.
options:
  backend:
    description: Kind of key-value store.
    type: str
    choices: [consul, etcd]
    default: consul
  host:
    description: Address of the store's client API, as the host the module runs on reaches it.
    type: str
    required: true
  port:
    description: Port of the store's client API (Consul's HTTP port, etcd's client port).
    type: int
    required: true
  prefix:
    description: Key prefix to list.
    type: str
    default: docker/nodes/
  expect:
    description: Keys (relative to O(prefix)) that must be present, for example C(192.168.151.3:2376).
    type: list
    elements: str
    default: []
  forget:
    description:
      - Keys (relative to O(prefix)) to delete when present, for example the C(ADDRESS:PORT) of an engine that left.
      - Deleted after the store has a leader; O(expect) is then checked against what remains.
    type: list
    elements: str
    default: []
  probe:
    description: Write the key C(mhnet/probe) and read it back, to prove the store accepts writes.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the leader, the probe and the expected keys; the store is asked about twice a second.
      - With V(0) the store is looked at once.
    type: int
    default: 60
  tls_ca:
    description:
      - Path, on the host the module runs on, of the CA certificate that signed the store's certificate. Set, the module
        speaks HTTPS and checks the store's certificate against it (and its address against the certificate's names).
    type: path
  tls_cert:
    description:
      - Path of the client certificate the module presents, for a store that requires one (Consul's
        C(verify_incoming_https)). Needs O(tls_ca) and O(tls_key).
    type: path
  tls_key:
    description: Path of the private key of O(tls_cert).
    type: path
  token:
    description:
      - Consul's ACL token, sent with every request. It needs read rights under O(prefix) and, with O(probe), write
        rights on C(mhnet/probe). Not logged.
      - Consul only.
    type: str
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Wait until Consul serves and stores keys
  mhnet.cluster.keystore_wait:
    host: 192.168.151.2
    port: 8500
  delegate_to: mh-keystore
  run_once: true

- name: Wait until Consul, over HTTPS with a client certificate and an ACL token, lists every engine
  mhnet.cluster.keystore_wait:
    host: 192.168.151.2
    port: 8501
    tls_ca: /etc/docker/keystore-tls/ca.pem
    tls_cert: /etc/docker/keystore-tls/cert.pem
    tls_key: /etc/docker/keystore-tls/key.pem
    token: "{{ engine_keystore_token }}"
    expect: ["192.168.151.3:2376", "192.168.151.4:2376"]
    probe: false
  delegate_to: mhs-demo0
  run_once: true
  no_log: true

- name: Wait until every engine is registered in etcd
  mhnet.cluster.keystore_wait:
    backend: etcd
    host: 192.168.151.2
    port: 2379
    expect: ["192.168.151.3:2376", "192.168.151.4:2376"]
    probe: false
    timeout: 120
  delegate_to: mh-keystore
  run_once: true
"""

RETURN = r"""
leader:
  description:
    - "Consul: address of the Raft leader. etcd: peer address of the leader member (its name or ID when it has no
      peer URL)."
    - Empty when the store has no leader.
  returned: always
  type: str
  sample: 192.168.151.2:8300
listed:
  description: Keys found under O(prefix), relative to it, sorted.
  returned: always
  type: list
  elements: str
  sample: ["192.168.151.3:2376", "192.168.151.4:2376"]
missing:
  description: Keys of O(expect) that the store does not list; empty when the module succeeds, so the sample is from a failure.
  returned: always
  type: list
  elements: str
  sample: ["192.168.151.4:2376"]
forgotten:
  description: Keys of O(forget) that were there and were deleted (would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["192.168.151.5:2376"]
elapsed:
  description: Seconds the module waited, to a tenth of a second.
  returned: always
  type: float
  sample: 1.5
"""

import json
import socket
import time
import traceback
from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlparse

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError
from ansible_collections.mhnet.cluster.plugins.module_utils._keystore_http import store_endpoint

PROBE_KEY = "mhnet/probe"
POLL_INTERVAL = 0.5
REQUEST_TIMEOUT = 5  # seconds one request may take; the overall wait is the module's timeout


class KeystoreError(MhnetError):
    """The store could not be used; the message says what, where and what to do. `result` goes into fail_json."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.result = result


class Unreachable(Exception):
    """No HTTP answer at all (refused, timed out, no route); the argument is the reason, in words."""


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


class Store:
    """What both backends share: the base URL and one HTTP request, its failures sorted into answers and silence."""

    backend = ""
    token_header = ""

    def __init__(self, params, opener=None):
        self.url, self.tls = store_endpoint(params)
        self.token = params.get("token") or ""
        self.prefix = normalize_prefix(params["prefix"])
        self.opener = opener or open_url

    def request(self, path, method="GET", data=None, content_type=None):
        """(HTTP status, body bytes). An HTTP error status is an answer; no answer raises Unreachable."""
        headers = {"Content-Type": content_type} if content_type else {}
        if self.token:
            headers[self.token_header] = self.token
        try:
            response = self.opener(self.url + path, data=data, method=method, headers=headers or None,
                                   timeout=REQUEST_TIMEOUT, use_proxy=False, **self.tls)
            return response.getcode(), response.read()
        except HTTPError as exc:
            return exc.code, exc.read()
        except (URLError, OSError, HTTPException, UrlsConnectionError) as exc:
            raise Unreachable(reason(exc)) from exc

    def answer_error(self, method, path, status, body):
        text = body.decode("utf-8", "replace").strip()[:200]
        if status in (401, 403):
            return KeystoreError("answered %s %s with HTTP %d (%s): the store refused the request's ACL token (or its "
                                 "absence): check the token given and its rights under %s" % (
                                     method, path, status, text or "empty body", self.prefix or "/"))
        return KeystoreError("answered %s %s with HTTP %d (%s): check that port %s is the %s server's client port "
                             "and the keystore container's logs" % (method, path, status, text or "empty body",
                                                                    urlparse(self.url).port, self.backend))


class ConsulStore(Store):
    """Consul through its HTTP API."""

    backend = "consul"
    token_header = "X-Consul-Token"

    def leader(self):
        status, body = self.request("/v1/status/leader")
        try:
            leader = json.loads(body) if status == 200 else None
        except ValueError:
            leader = None
        if not isinstance(leader, str):
            raise self.answer_error("GET", "/v1/status/leader", status, body)
        return leader

    def probe(self, value):
        """The value read back after writing `value`; None when the write was not accepted."""
        status, body = self.request("/v1/kv/" + PROBE_KEY, method="PUT", data=value.encode())
        if status != 200 or body.strip() != b"true":
            return None
        status, body = self.request("/v1/kv/%s?raw" % PROBE_KEY)
        return body.decode("utf-8", "replace") if status == 200 else None

    def keys(self):
        path = "/v1/kv/%s?keys" % quote(self.prefix, safe="/:")
        status, body = self.request(path)
        if status == 404:  # nothing under the prefix yet
            return []
        try:
            keys = json.loads(body) if status == 200 else None
        except ValueError:
            keys = None
        if not isinstance(keys, list):
            raise self.answer_error("GET", path, status, body)
        return sorted(key[len(self.prefix):] for key in keys if key.startswith(self.prefix))

    def delete(self, key):
        path = "/v1/kv/%s" % quote(self.prefix + key, safe="/:")
        status, body = self.request(path, method="DELETE")
        if status != 200:
            raise self.answer_error("DELETE", path, status, body)


class EtcdStore(Store):
    """etcd through its v2 HTTP API, the one Docker's cluster store uses."""

    backend = "etcd"

    def json_request(self, path, method="GET", data=None):
        """(HTTP status, decoded JSON body)."""
        content_type = "application/x-www-form-urlencoded" if data is not None else None
        status, body = self.request(path, method=method, data=data, content_type=content_type)
        try:
            return status, json.loads(body or b"{}")
        except ValueError:
            if status == 404:  # a path this server does not serve, for example the v2 API when it is off
                return status, {}
            raise self.answer_error(method, path, status, body) from None

    @staticmethod
    def key_path(key):
        return "/v2/keys/" + quote(key.strip("/"), safe="/:")

    def leader(self):
        status, stats = self.json_request("/v2/stats/self")
        if status == 404:
            raise KeystoreError("answers without its v2 API (HTTP 404 on /v2/stats/self): start etcd with "
                                "--enable-v2=true, the API Docker's cluster-store uses")
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

    def keys(self):
        path = self.key_path(self.prefix)
        status, answer = self.json_request(path)
        if status == 404 and answer.get("errorCode") == 100:  # key not found: nothing registered yet
            return []
        if status != 200:
            raise KeystoreError("answered GET %s with HTTP %d (%s): check the keystore container's logs" % (
                path, status, answer.get("message", answer)))
        start = len("/" + self.prefix)
        return sorted(child["key"][start:] for child in (answer.get("node") or {}).get("nodes") or [])

    def delete(self, key):
        path = self.key_path(self.prefix + key)
        status, answer = self.json_request(path, method="DELETE")
        if status != 200 and not (status == 404 and answer.get("errorCode") == 100):
            raise KeystoreError("answered DELETE %s with HTTP %d (%s): check the keystore container's logs" % (
                path, status, answer.get("message", answer)))


STORES = dict(consul=ConsulStore, etcd=EtcdStore)


class Waiter:
    """Polls a store until it has a leader, has stored the probe once and lists every expected key."""

    def __init__(self, store, params, check_mode, clock=time.monotonic, sleep=time.sleep, stamp=time.time):
        self.store, self.params, self.check_mode = store, params, check_mode
        self.clock, self.sleep, self.stamp = clock, sleep, stamp
        self.leader, self.listed, self.forgotten = "", [], []
        self.probed = not params["probe"] or check_mode  # check mode writes nothing
        self.problem = None  # why the last look was not ready: (kind, detail)

    def missing(self):
        return sorted(set(self.params["expect"]) - set(self.listed))

    def look(self):
        """One look at the store; True when everything asked for is there, else self.problem says why not."""
        try:
            self.leader = self.store.leader()
            if not self.leader:
                self.problem = ("no-leader", "")
                return False
            if not self.probed:
                value = "%.6f" % self.stamp()
                read = self.store.probe(value)
                if read != value:
                    self.problem = ("probe", (value, read))
                    return False
                self.probed = True
            self.listed = self.store.keys()
            stale = [key for key in self.params["forget"] if key in self.listed and key not in self.forgotten]
            for key in stale:
                if not self.check_mode:
                    self.store.delete(key)
                self.forgotten.append(key)
            if stale and not self.check_mode:
                self.listed = self.store.keys()
        except Unreachable as exc:
            self.problem = ("unreachable", str(exc))
            return False
        except KeystoreError as exc:
            self.problem = ("answer", str(exc))
            return False
        self.problem = ("missing", "") if self.missing() else None
        return self.problem is None

    def run(self):
        start = self.clock()
        deadline = start + self.params["timeout"]
        while not self.look():
            now = self.clock()
            if now >= deadline:
                raise KeystoreError(self.message(now - start), **self.result(now - start))
            self.sleep(min(POLL_INTERVAL, deadline - now))
        return self.result(self.clock() - start)

    def result(self, elapsed):
        return dict(leader=self.leader, listed=self.listed, missing=self.missing(), forgotten=self.forgotten,
                    elapsed=round(elapsed, 1))

    def message(self, elapsed):
        kind, detail = self.problem
        port = self.params["port"]
        where = "the %s keystore at %s" % (self.store.backend, self.store.url)
        after = "after %d s" % round(elapsed)
        if kind == "unreachable":
            return ("%s is unreachable from %s %s (%s): check that it runs and listens on that address, and that nothing "
                    "blocks port %d" % (where, socket.gethostname(), after, detail, port))
        if kind == "answer":
            return "%s, %s %s" % (after, where, detail)
        if kind == "no-leader":
            return ("%s has no leader %s: check that enough keystore servers run to elect one (a quorum of the "
                    "expected servers) and their logs" % (where, after))
        if kind == "probe":
            wrote, read = detail
            outcome = "the write was not accepted" if read is None else "wrote %r, read back %r" % (wrote, read)
            return ("%s has a leader but did not store the probe key %s %s (%s): check the keystore container's logs "
                    "(a read-only or full store?) and that nothing else writes %s" % (
                        where, PROBE_KEY, after, outcome, PROBE_KEY))
        missing, expected = self.missing(), len(set(self.params["expect"]))
        return ("%s lists %d of %d expected keys under %s %s: engines not registered: %s; present: %s; check "
                "cluster-advertise and the engines' logs" % (
                    where, expected - len(missing), expected, self.store.prefix or "/", after,
                    ", ".join(missing), ", ".join(self.listed) or "nothing"))


def wait(params, check_mode, opener=None, clock=time.monotonic, sleep=time.sleep):
    """Wait for the store `params` describe: the module's result, or KeystoreError."""
    if not 0 < params["port"] < 65536:
        raise KeystoreError("port %d is not a TCP port: give the store's client port (1-65535)" % params["port"])
    if params.get("token") and params["backend"] != "consul":
        raise KeystoreError("token is Consul's ACL token and the backend is %s: remove token" % params["backend"])
    store = STORES[params["backend"]](params, opener)
    return Waiter(store, params, check_mode, clock=clock, sleep=sleep).run()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type="str", choices=["consul", "etcd"], default="consul"),
            host=dict(type="str", required=True),
            port=dict(type="int", required=True),
            prefix=dict(type="str", default="docker/nodes/"),
            expect=dict(type="list", elements="str", default=[]),
            forget=dict(type="list", elements="str", default=[]),
            probe=dict(type="bool", default=True),
            timeout=dict(type="int", default=60),
            tls_ca=dict(type="path"),
            tls_cert=dict(type="path"),
            tls_key=dict(type="path", no_log=False),
            token=dict(type="str", no_log=True),
        ),
        required_together=[["tls_cert", "tls_key"]],
        required_by=dict(tls_cert="tls_ca"),
        supports_check_mode=True,
    )
    try:
        result = wait(module.params, module.check_mode)
        module.exit_json(changed=bool(result["forgotten"]), **result)
    except MhnetError as exc:
        module.fail_json(msg=str(exc), changed=False, exception=traceback.format_exc(), **getattr(exc, "result", {}))


if __name__ == "__main__":
    main()
