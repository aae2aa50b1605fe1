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
    cluster address as the engines do; the controller needs nothing beyond Ansible.
  - "Consul: C(/v1/status/leader), C(/v1/kv/). etcd: C(/v2/stats/self), C(/v2/members), C(/v2/keys)."
  - With O(token), the token needs read rights under O(prefix) and, with O(probe), write rights on C(mhnet/probe).
  - O(timeout) bounds the whole wait for the leader, the probe and the expected keys; the store is asked about twice
    a second, each request for at most 5 seconds. With O(timeout=0) the store is looked at once.
  - "ZooKeeper is not supported: as a cluster store it is broken upstream
    (U(https://github.com/moby/libnetwork/issues/2006))."
  - With O(forget), deletes those keys under O(prefix) (engines that left the cluster; Docker never removes its
    own), and reports a change when one was there.
  - The probe key C(mhnet/probe) is the module's own scratch key. Writing it is not reported as a change.
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.keystore
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

import socket
import time
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError
from ansible_collections.mhnet.cluster.plugins.module_utils._store_client import (
    PROBE_KEY, StoreError, Unreachable, keystore_module_args, normalize_prefix, store_client)

POLL_INTERVAL = 0.5
REQUEST_TIMEOUT = 5  # seconds one request may take; the module's timeout bounds the whole wait


class Waiter:
    """Polls a store until it has a leader, has stored the probe once and lists every expected key."""

    def __init__(self, store, params, check_mode, clock=time.monotonic, sleep=time.sleep, stamp=time.time):
        self.store, self.params, self.check_mode = store, params, check_mode
        self.prefix = normalize_prefix(params["prefix"])
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
            self.listed = self.store.keys(self.prefix)
            stale = [key for key in self.params["forget"] if key in self.listed and key not in self.forgotten]
            for key in stale:
                if not self.check_mode:
                    self.store.delete(self.prefix + key)
                self.forgotten.append(key)
            if stale and not self.check_mode:
                self.listed = self.store.keys(self.prefix)
        except Unreachable as exc:
            self.problem = ("unreachable", exc.reason)
            return False
        except StoreError as exc:
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
                raise StoreError(self.message(now - start), **self.result(now - start))
            self.sleep(min(POLL_INTERVAL, deadline - now))
        return self.result(self.clock() - start)

    def result(self, elapsed):
        return dict(leader=self.leader, listed=self.listed, missing=self.missing(), forgotten=self.forgotten,
                    elapsed=round(elapsed, 1))

    def message(self, elapsed):
        kind, detail = self.problem
        port = self.params["port"]
        where = self.store.where
        after = "after %d s" % round(elapsed)
        if kind == "unreachable":
            return ("%s is unreachable from %s %s (%s): check that it runs and listens on that address, and that nothing "
                    "blocks port %d" % (where, socket.gethostname(), after, detail, port))
        if kind == "answer":
            return "%s, %s" % (after, detail)
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
                    where, expected - len(missing), expected, self.prefix or "/", after,
                    ", ".join(missing), ", ".join(self.listed) or "nothing"))


def wait(params, check_mode, opener=None, clock=time.monotonic, sleep=time.sleep):
    """Wait for the store `params` describe: the module's result, or StoreError."""
    store = store_client(params, opener, request_timeout=REQUEST_TIMEOUT, clock=clock)
    return Waiter(store, params, check_mode, clock=clock, sleep=sleep).run()


def main():
    module = AnsibleModule(**keystore_module_args(
        prefix=dict(type="str", default="docker/nodes/"),
        expect=dict(type="list", elements="str", default=[]),
        forget=dict(type="list", elements="str", default=[]),
        probe=dict(type="bool", default=True),
    ))
    try:
        result = wait(module.params, module.check_mode)
        module.exit_json(changed=bool(result["forgotten"]), **result)
    except MhnetError as exc:
        module.fail_json(msg=str(exc), changed=False, exception=traceback.format_exc(), **getattr(exc, "result", {}))


if __name__ == "__main__":
    main()
