#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: keystore_acl
short_description: Ensure Consul's ACL policy for the engines and the engines' token that holds it
version_added: 0.3.0
description:
  - Ensures, with Consul's management token (O(token)), that the ACL policy O(policy_name) has the rules
    O(policy_rules), creating or updating it, and that the token whose secret is O(engine_token) exists and holds that
    policy, creating it or giving it the policy.
  - The engines' token is read with itself (C(/v1/acl/token/self)); its secret is chosen by the caller, so the engines'
    settings can carry it before Consul knows it.
  - Meant to run on a keystore host (delegate it), which reaches the store's cluster address. Consul only.
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.keystore
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module only reads; C(changed) says whether the policy or the token would be written.
  diff_mode:
    support: full
    details:
      - The policy's name and rules and the token's description and policies, before and after; never a secret.
  idempotent:
    support: full
    details:
      - A policy whose rules equal O(policy_rules) and a token holding it are left alone.
options:
  policy_name:
    description: Name of the engines' ACL policy.
    type: str
    required: true
  policy_description:
    description: Description of the policy, written when the policy is created or its rules updated.
    type: str
    default: ""
  policy_rules:
    description: The policy's rules (HCL), compared as text with what Consul holds.
    type: str
    required: true
  engine_token:
    description: Secret ID of the engines' token. Not logged.
    type: str
    required: true
  engine_token_description:
    description: Description of the engines' token, written when the token is created or given the policy.
    type: str
    default: mhnet.cluster engines (Docker's cluster store)
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Give the engines their ACL policy and token
  mhnet.cluster.keystore_acl:
    host: 192.168.151.2
    port: 8501
    tls_ca: /etc/mhnet/keystore/tls/ca.pem
    tls_cert: /etc/mhnet/keystore/tls/cert.pem
    tls_key: /etc/mhnet/keystore/tls/key.pem
    token: "{{ keystore_acl_master_token }}"
    policy_name: mhnet-engines
    policy_rules: |
      key_prefix "docker/" { policy = "write" }
      session_prefix "" { policy = "write" }
    engine_token: "{{ keystore_acl_engine_token }}"
  delegate_to: mh-keystore
  run_once: true
  no_log: true
"""

RETURN = r"""
policy:
  description: What was done to the policy (would be, in check mode).
  returned: always
  type: str
  choices: [created, updated, unchanged]
  sample: unchanged
engine_token:
  description: What was done to the engines' token (would be, in check mode).
  returned: always
  type: str
  choices: [created, updated, unchanged]
  sample: created
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError
from ansible_collections.mhnet.cluster.plugins.module_utils._store_client import (
    StoreError, keystore_module_args, store_client)


def policy_view(policy):
    return dict(name=policy["Name"], rules=policy["Rules"]) if policy else None


def token_view(token):
    if not token:
        return None
    return dict(description=token.get("Description", ""),
                policies=sorted(policy.get("Name", "") for policy in token.get("Policies") or []))


def action(current, in_sync):
    return "unchanged" if in_sync else "updated" if current else "created"


def ensure(params, check_mode, opener=None):
    """The module's result: the policy and the token made as asked (outside check mode), and their diff."""
    if params["backend"] != "consul":
        raise StoreError("keystore_acl manages Consul's ACLs and the backend is %s: etcd has none here; run it only "
                         "with Consul's ACLs on" % params["backend"])
    if not params.get("token"):
        raise StoreError("keystore_acl needs token, Consul's management token, to read and write ACLs")
    client = store_client(params, opener)
    name = params["policy_name"]

    policy = client.policy(name)
    policy_action = action(policy, policy is not None and policy.get("Rules") == params["policy_rules"])
    if policy_action != "unchanged" and not check_mode:
        client.put_policy(dict(Name=name, Description=params["policy_description"], Rules=params["policy_rules"]),
                          policy.get("ID") if policy else None)

    token = client.token_self(params["engine_token"])
    token_action = action(token, token is not None and name in token_view(token)["policies"])
    wanted_token = dict(SecretID=params["engine_token"], Description=params["engine_token_description"],
                        Policies=[dict(Name=name)])
    if token_action != "unchanged" and not check_mode:
        client.put_token(wanted_token, token.get("AccessorID") if token else None)

    return dict(
        changed=policy_action != "unchanged" or token_action != "unchanged",
        policy=policy_action,
        engine_token=token_action,
        diff=dict(
            before=dict(policy=policy_view(policy), token=token_view(token)),
            after=dict(policy=policy_view(policy if policy_action == "unchanged" else dict(
                Name=name, Rules=params["policy_rules"])),
                token=token_view(token if token_action == "unchanged" else wanted_token)),
        ),
    )


def main():
    module = AnsibleModule(**keystore_module_args(
        policy_name=dict(type="str", required=True),
        policy_description=dict(type="str", default=""),
        policy_rules=dict(type="str", required=True),
        engine_token=dict(type="str", required=True, no_log=True),
        engine_token_description=dict(type="str", default="mhnet.cluster engines (Docker's cluster store)",
                                      no_log=False),
    ))
    try:
        result = ensure(module.params, module.check_mode)
        if not module._diff:
            result.pop("diff")
        module.exit_json(**result)
    except MhnetError as exc:
        module.fail_json(msg=str(exc), changed=False, exception=traceback.format_exc())


if __name__ == "__main__":
    main()
