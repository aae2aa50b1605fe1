#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: keystore_info
short_description: Wait until a Consul, etcd or ZooKeeper keystore serves, and read what the engines registered in it
version_added: 0.1.0
description:
  - Talks to the key-value store the engines share, from wherever it runs (normally the controller, which must
    reach the keystore's address).
  - Waits until the store serves (Consul and etcd have a leader; ZooKeeper answers C(srvr) with a serving mode)
    and, with O(probe), until a key can be written and read back.
  - Lists the keys under O(prefix) (Docker registers engines under C(docker/nodes/)) and, with O(expect),
    waits until every expected key is there.
  - "Consul: its HTTP API through py-consul. etcd: its v2 HTTP API (C(/v2/stats/self), C(/v2/members),
    C(/v2/keys)), the API Docker's libkv speaks, so etcd 3.x must run with C(--enable-v2=true).
    ZooKeeper: the C(srvr) four-letter command (it must be in C(4lw.commands.whitelist), as it is by default)
    and a minimal client of ZooKeeper's own protocol for the probe and the listing; no client library needed."
  - The probe key is the module's own (C(mhnet/probe)); writing it is not reported as a change.
extends_documentation_fragment:
  - mhnet.cluster.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the probe key is not written.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  backend:
    description: Kind of key-value store.
    type: str
    choices: [consul, etcd, zookeeper]
    default: consul
  host:
    description: Address of the store's client API.
    type: str
    required: true
  port:
    description: Port of the store's client API; by default the backend's own (8500, 2379, 2181).
    type: int
  prefix:
    description: Key prefix to list.
    type: str
    default: docker/nodes/
  expect:
    description: Keys (relative to O(prefix)) that must be present, for example C(192.168.151.3:2376).
    type: list
    elements: str
    default: []
  probe:
    description: Write and read back a key to prove the store accepts writes.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the leader, the probe and the expected keys.
    type: int
    default: 60
requirements:
  - py-consul (C(import consul)) where the module runs, for O(backend=consul)
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Wait until every engine is registered in the keystore
  mhnet.cluster.keystore_info:
    host: 192.168.151.2
    expect: ["192.168.151.3:2376", "192.168.151.4:2376"]
  delegate_to: localhost

- name: Wait until etcd serves and stores keys
  mhnet.cluster.keystore_info:
    backend: etcd
    host: 192.168.151.2
  delegate_to: localhost
"""

RETURN = r"""
leader:
  description:
    - "Consul: address of the Raft leader. etcd: peer address of the leader member (its ID when it has no peer URL)."
    - ZooKeeper, whose C(srvr) does not name the leader, the mode of the server asked (C(standalone), C(leader),
      C(follower) or C(observer)).
  returned: always
  type: str
  sample: 192.168.151.2:8300
keys:
  description: Keys found under O(prefix), relative to it.
  returned: always
  type: list
  elements: str
  sample: ["192.168.151.3:2376", "192.168.151.4:2376"]
"""

import json
import socket
import struct
import time
import traceback
from urllib.error import HTTPError
from urllib.parse import quote, urlencode, urlparse

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.urls import open_url

try:
    import consul
except ImportError:
    consul = None
    CONSUL_IMPORT_ERROR = traceback.format_exc()
else:
    CONSUL_IMPORT_ERROR = None

PROBE_KEY = "mhnet/probe"
DEFAULT_PORTS = dict(consul=8500, etcd=2379, zookeeper=2181)
# Seconds one request may take; the overall wait is the module's timeout.
REQUEST_TIMEOUT = 5


class KeystoreError(Exception):
    """The store answered, but not as a working store does; the message says what to do."""


def stamp():
    return "%.6f" % time.time()


def read_state(client, params, check_mode):
    """One look at a Consul store: (leader, probe_ok, keys); raises on connection errors."""
    leader = client.status.leader() or ""
    probe_ok = True
    if leader and params["probe"] and not check_mode:
        value = stamp()
        probe_ok = client.kv.put(PROBE_KEY, value) and (client.kv.get(PROBE_KEY)[1] or {}).get("Value") == value.encode()
    dummy, entries = client.kv.get(params["prefix"], recurse=True) if leader else (None, None)
    keys = sorted(entry["Key"][len(params["prefix"]):] for entry in entries or [])
    return leader, probe_ok, keys


class ConsulStore:
    """Consul through py-consul."""

    label = "Consul"
    not_serving = ("has no leader", "no leader elected")

    def __init__(self, params):
        self.params = params
        self.client = consul.Consul(host=params["host"], port=params["port"])

    def read_state(self, check_mode):
        return read_state(self.client, self.params, check_mode)


class EtcdStore:
    """etcd through its v2 HTTP API, the one Docker's libkv uses."""

    label = "etcd"
    not_serving = ("has no leader", "no leader elected")

    def __init__(self, params, opener=None):
        self.params = params
        self.base = "http://%s:%d" % (params["host"], params["port"])
        self.opener = opener or open_url

    def request(self, path, method="GET", data=None):
        """(HTTP status, decoded JSON body); an HTTP error status is an answer, not an exception."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if data is not None else None
        try:
            response = self.opener(self.base + path, data=data, method=method, headers=headers, timeout=REQUEST_TIMEOUT)
            status, body = response.getcode(), response.read()
        except HTTPError as exc:
            status, body = exc.code, exc.read()
        try:
            return status, json.loads(body or b"{}")
        except ValueError:
            if status == 404:  # a path this server does not serve, for example the v2 API when it is off
                return status, {}
            raise KeystoreError("answered %s %s with HTTP %d and a body that is not JSON: is this etcd?" % (method, path, status))

    def key_url(self, key):
        return "/v2/keys/" + quote(key.strip("/"), safe="/:")

    def leader(self):
        status, stats = self.request("/v2/stats/self")
        if status == 404:
            raise KeystoreError("answers without its v2 API (HTTP 404 on /v2/stats/self): start etcd with --enable-v2=true, "
                                "the API Docker's cluster-store uses")
        leader_id = (stats.get("leaderInfo") or {}).get("leader") or ""
        if status != 200 or not leader_id:
            return ""
        dummy, members = self.request("/v2/members")
        for member in members.get("members") or []:
            if member.get("id") == leader_id:
                peer = urlparse((member.get("peerURLs") or [""])[0]).netloc
                return peer or member.get("name") or leader_id
        return leader_id

    def probe(self):
        value = stamp()
        status, dummy = self.request(self.key_url(PROBE_KEY), method="PUT", data=urlencode({"value": value}))
        if status not in (200, 201):
            return False
        status, answer = self.request(self.key_url(PROBE_KEY))
        return status == 200 and (answer.get("node") or {}).get("value") == value

    def keys(self):
        status, answer = self.request(self.key_url(self.params["prefix"]))
        if status == 404 and answer.get("errorCode") == 100:  # key not found: nothing registered yet
            return []
        if status != 200:
            raise KeystoreError("answered HTTP %d listing %s: %s" % (status, self.params["prefix"], answer.get("message", answer)))
        node = answer.get("node") or {}
        start = len("/" + self.params["prefix"].strip("/") + "/")
        return sorted(child["key"][start:] for child in node.get("nodes") or [])

    def read_state(self, check_mode):
        leader = self.leader()
        probe_ok = self.probe() if leader and self.params["probe"] and not check_mode else True
        return leader, probe_ok, self.keys() if leader else []


# ZooKeeper's protocol: length-prefixed frames of big-endian fields (jute). Only what the module needs.
ZK_CREATE = 1
ZK_GET_DATA = 4
ZK_SET_DATA = 5
ZK_GET_CHILDREN = 8
ZK_CLOSE = -11
ZK_OK = 0
ZK_NO_NODE = -101
ZK_NODE_EXISTS = -110
ZK_OPEN_ACL = struct.pack(">ii", 1, 31) + struct.pack(">i", 5) + b"world" + struct.pack(">i", 6) + b"anyone"
ZK_SERVING_MODES = ("standalone", "leader", "follower", "observer")


def zk_string(value):
    data = value if isinstance(value, bytes) else value.encode()
    return struct.pack(">i", len(data)) + data


def zk_read_buffer(data, offset):
    """(bytes or None, next offset)."""
    (length,) = struct.unpack_from(">i", data, offset)
    offset += 4
    if length < 0:
        return None, offset
    return data[offset:offset + length], offset + length


class ZkSession:
    """A ZooKeeper client session over one TCP connection: create, set, get and list znodes."""

    def __init__(self, host, port, connect):
        self.sock = connect((host, port), REQUEST_TIMEOUT)
        self.xid = 0
        # ConnectRequest: protocol version, last zxid seen, session timeout (ms), session id, password, read-only.
        self.send(struct.pack(">iqiq", 0, 0, 30000, 0) + zk_string(b"\0" * 16) + b"\0")
        reply = self.receive()
        if len(reply) < 16 or struct.unpack_from(">q", reply, 8)[0] == 0:
            raise KeystoreError("refused a client session (no quorum yet?)")

    def send(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def read_exactly(self, size):
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise KeystoreError("closed the client connection")
            data += chunk
        return data

    def receive(self):
        (length,) = struct.unpack(">i", self.read_exactly(4))
        return self.read_exactly(length)

    def call(self, operation, payload):
        """(error code, response body) of one request."""
        self.xid += 1
        self.send(struct.pack(">ii", self.xid, operation) + payload)
        while True:
            reply = self.receive()
            xid, dummy, error = struct.unpack_from(">iqi", reply)
            if xid == self.xid:
                return error, reply[16:]
            # Anything else (a watch event, xid -1) is not an answer to this request.

    def check(self, error, what, allowed=(ZK_OK,)):
        if error not in allowed:
            raise KeystoreError("answered error %d to %s" % (error, what))
        return error

    def create(self, path, data=b""):
        """Create a persistent znode open to all; True if created, False if it already existed."""
        error, dummy = self.call(ZK_CREATE, zk_string(path) + zk_string(data) + ZK_OPEN_ACL + struct.pack(">i", 0))
        return self.check(error, "create %s" % path, (ZK_OK, ZK_NODE_EXISTS)) == ZK_OK

    def set_data(self, path, data):
        """True if set, False if the znode does not exist."""
        error, dummy = self.call(ZK_SET_DATA, zk_string(path) + zk_string(data) + struct.pack(">i", -1))
        return self.check(error, "set %s" % path, (ZK_OK, ZK_NO_NODE)) == ZK_OK

    def get_data(self, path):
        error, body = self.call(ZK_GET_DATA, zk_string(path) + b"\0")
        if self.check(error, "get %s" % path, (ZK_OK, ZK_NO_NODE)) == ZK_NO_NODE:
            return None
        return zk_read_buffer(body, 0)[0] or b""

    def get_children(self, path):
        """Names of the znode's children; None if it does not exist."""
        error, body = self.call(ZK_GET_CHILDREN, zk_string(path) + b"\0")
        if self.check(error, "list %s" % path, (ZK_OK, ZK_NO_NODE)) == ZK_NO_NODE:
            return None
        (count,) = struct.unpack_from(">i", body)
        names, offset = [], 4
        for dummy in range(max(count, 0)):
            name, offset = zk_read_buffer(body, offset)
            names.append(name.decode())
        return names

    def close(self):
        try:
            self.call(ZK_CLOSE, b"")
        except (KeystoreError, OSError, struct.error):
            pass
        finally:
            self.sock.close()


class ZooKeeperStore:
    """ZooKeeper: `srvr` for readiness, a minimal client session for the probe and the listing."""

    label = "ZooKeeper"
    not_serving = ("is not serving", "srvr reports no serving mode")

    def __init__(self, params, connect=None):
        self.params = params
        self.connect = connect or socket.create_connection

    def mode(self):
        """The server's mode as `srvr` reports it, "" while it does not serve."""
        sock = self.connect((self.params["host"], self.params["port"]), REQUEST_TIMEOUT)
        try:
            sock.sendall(b"srvr")
            answer = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
        finally:
            sock.close()
        text = answer.decode("utf-8", "replace")
        if "not in the whitelist" in text or "not executed" in text:
            raise KeystoreError("does not answer srvr (%s): add srvr to 4lw.commands.whitelist" % text.strip())
        for line in text.splitlines():
            if line.startswith("Mode:"):
                mode = line.split(":", 1)[1].strip()
                return mode if mode in ZK_SERVING_MODES else ""
        return ""

    def read_state(self, check_mode):
        leader = self.mode()
        if not leader:
            return "", False, []
        session = ZkSession(self.params["host"], self.params["port"], self.connect)
        try:
            probe_ok = True
            if self.params["probe"] and not check_mode:
                value = stamp().encode()
                path = "/" + PROBE_KEY
                session.create(path.rsplit("/", 1)[0])
                if not session.set_data(path, value):
                    session.create(path, value)
                probe_ok = session.get_data(path) == value
            children = session.get_children("/" + self.params["prefix"].strip("/"))
        finally:
            session.close()
        return leader, probe_ok, sorted(children or [])


STORES = dict(consul=ConsulStore, etcd=EtcdStore, zookeeper=ZooKeeperStore)


def wait(store, params, check_mode, clock=time.time, sleep=time.sleep):
    """Poll the store until it serves, stores the probe and lists every expected key: (ok, leader, keys, msg)."""
    deadline = clock() + params["timeout"]
    leader, probe_ok, keys, error = "", False, [], ""
    while True:
        try:
            leader, probe_ok, keys = store.read_state(check_mode)
            error = ""
        # Any failure means "not ready yet" until the deadline; the last one is reported.
        except Exception as exc:  # pylint: disable=broad-exception-caught
            error = str(exc) or exc.__class__.__name__
        missing = sorted(set(params["expect"]) - set(keys))
        if leader and probe_ok and not missing and not error:
            return True, leader, keys, ""
        if clock() >= deadline:
            break
        sleep(1)
    where = "%s at %s:%d" % (store.label, params["host"], params["port"])
    if error or not leader:
        state, detail = store.not_serving
        msg = "%s %s after %ds (%s): check the keystore container's logs" % (where, state, params["timeout"], error or detail)
    elif not probe_ok:
        msg = "%s did not store and return a key within %ds" % (where, params["timeout"])
    else:
        msg = "%s lists no %s%s after %ds (found: %s): check that those engines run with cluster-store and cluster-advertise" % (
            where, params["prefix"], (" or %s" % params["prefix"]).join(missing), params["timeout"], ", ".join(keys) or "nothing")
    return False, leader, keys, msg


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type="str", choices=["consul", "etcd", "zookeeper"], default="consul"),
            host=dict(type="str", required=True),
            port=dict(type="int"),
            prefix=dict(type="str", default="docker/nodes/"),
            expect=dict(type="list", elements="str", default=[]),
            probe=dict(type="bool", default=True),
            timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["port"] is None:
        p["port"] = DEFAULT_PORTS[p["backend"]]
    if p["backend"] == "consul" and consul is None:
        module.fail_json(msg=missing_required_lib("py-consul"), exception=CONSUL_IMPORT_ERROR)
    ok, leader, keys, msg = wait(STORES[p["backend"]](p), p, module.check_mode)
    if ok:
        module.exit_json(changed=False, leader=leader, keys=keys)
    module.fail_json(msg=msg, leader=leader, keys=keys)


if __name__ == "__main__":
    main()
