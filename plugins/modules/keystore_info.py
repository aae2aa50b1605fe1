#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: keystore_info
short_description: Wait until a Consul keystore serves, and read what the engines registered in it
version_added: 0.1.0
description:
  - Talks to Consul's HTTP API with py-consul, from wherever it runs (normally the controller, which must reach
    the keystore's address).
  - Waits until a leader is elected and, with O(probe), until a key can be written and read back.
  - Lists the keys under O(prefix) (Docker registers engines under C(docker/nodes/)) and, with O(expect),
    waits until every expected key is there.
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
  host:
    description: Address of the Consul HTTP API.
    type: str
    required: true
  port:
    description: Port of the Consul HTTP API.
    type: int
    default: 8500
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
  - py-consul (C(import consul)) where the module runs
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Wait until every engine is registered in the keystore
  mhnet.cluster.keystore_info:
    host: 192.168.151.2
    expect: ["192.168.151.3:2376", "192.168.151.4:2376"]
  delegate_to: localhost
"""

RETURN = r"""
leader:
  description: Address of the Raft leader.
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

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import consul
except ImportError:
    consul = None
    CONSUL_IMPORT_ERROR = traceback.format_exc()
else:
    CONSUL_IMPORT_ERROR = None

PROBE_KEY = "mhnet/probe"


def read_state(client, params, check_mode):
    """One look at the store: (leader, probe_ok, keys); raises on connection errors."""
    leader = client.status.leader() or ""
    probe_ok = True
    if leader and params["probe"] and not check_mode:
        stamp = "%.6f" % time.time()
        probe_ok = client.kv.put(PROBE_KEY, stamp) and (client.kv.get(PROBE_KEY)[1] or {}).get("Value") == stamp.encode()
    dummy, entries = client.kv.get(params["prefix"], recurse=True) if leader else (None, None)
    keys = sorted(entry["Key"][len(params["prefix"]):] for entry in entries or [])
    return leader, probe_ok, keys


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host=dict(type="str", required=True),
            port=dict(type="int", default=8500),
            prefix=dict(type="str", default="docker/nodes/"),
            expect=dict(type="list", elements="str", default=[]),
            probe=dict(type="bool", default=True),
            timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    if consul is None:
        module.fail_json(msg=missing_required_lib("py-consul"), exception=CONSUL_IMPORT_ERROR)
    p = module.params
    client = consul.Consul(host=p["host"], port=p["port"])
    deadline = time.time() + p["timeout"]
    leader, probe_ok, keys, error = "", False, [], ""
    while True:
        try:
            leader, probe_ok, keys = read_state(client, p, module.check_mode)
            error = ""
        # Any failure means "not ready yet" until the deadline; the last one is reported.
        except Exception as exc:  # pylint: disable=broad-exception-caught
            error = str(exc)
        missing = sorted(set(p["expect"]) - set(keys))
        if leader and probe_ok and not missing and not error:
            module.exit_json(changed=False, leader=leader, keys=keys)
        if time.time() >= deadline:
            break
        time.sleep(1)
    where = "Consul at %s:%d" % (p["host"], p["port"])
    if error or not leader:
        msg = "%s has no leader after %ds (%s): check the keystore container's logs" % (where, p["timeout"], error or "no leader elected")
    elif not probe_ok:
        msg = "%s did not store and return a key within %ds" % (where, p["timeout"])
    else:
        msg = "%s lists no %s%s after %ds (found: %s): check that those engines run with cluster-store and cluster-advertise" % (
            where, p["prefix"], (" or %s" % p["prefix"]).join(missing), p["timeout"], ", ".join(keys) or "nothing")
    module.fail_json(msg=msg, leader=leader, keys=keys)


if __name__ == "__main__":
    main()
