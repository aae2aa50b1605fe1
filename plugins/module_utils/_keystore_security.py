# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The keystore's security in the cluster plan: TLS between the engines and Consul, and Consul's ACL token.

Pure functions on plain dicts, fed by the `cluster_plan` action plugin from each host's variables. Tokens never
reach this module: the action plugin passes their SHA-256 digests, so no message or plan value can carry one.
"""

from __future__ import annotations

import os
import re

# Consul's HTTPS port unless mhnet_keystore_port says otherwise (Consul's own default for `ports.https`).
CONSUL_HTTPS_PORT = 8501
TLS_FILES = ("ca", "cert", "key")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_uuid(value):
    """Consul accepts a token's SecretID only in UUID form."""
    return bool(UUID.match(value or ""))


def tls_requested(hosts):
    """Whether any host sets mhnet_keystore_tls (the action plugin then defaults the port to Consul's HTTPS one)."""
    return any(host.get("tls") for host in hosts.values())


def _tls_problems(name, tls, exists):
    """Problems of one host's mhnet_keystore_tls: a mapping of ca, cert and key, each a file on the controller."""
    if not isinstance(tls, dict):
        return ["%s: mhnet_keystore_tls must be a mapping with ca, cert and key (paths on the controller), not %r"
                % (name, type(tls).__name__)]
    problems = ["%s: mhnet_keystore_tls has the unknown key %r: use ca, cert and key" % (name, key)
                for key in sorted(set(tls) - set(TLS_FILES))]
    given = [key for key in TLS_FILES if tls.get(key)]
    missing = [key for key in TLS_FILES if not tls.get(key)]
    if missing:
        problems.append("%s: mhnet_keystore_tls has %s but no %s: give all three (the CA that signed every "
                        "certificate, this host's certificate and its private key), or none"
                        % (name, " and ".join(given) or "nothing", " and ".join(missing)))
    for key in given:
        if not isinstance(tls[key], str) or not exists(tls[key]):
            problems.append("%s: mhnet_keystore_tls.%s %s is not a file on the controller: give the path of an existing "
                            "PEM file (relative paths are taken from the playbook's directory)" % (name, key, tls[key]))
    return problems


def keystore_security(backend, hosts, keystores, engines, exists=os.path.isfile):
    """(problems, settings) of TLS and the ACL token for the key-value mode.

    hosts: inventory name -> {'tls': mhnet_keystore_tls (paths resolved on the controller) or {},
      'master': digest of keystore_acl_master_token or '', 'engine_token': digest of keystore_acl_engine_token or '',
      'engine_token_uuid': bool, 'token': digest of engine_keystore_token or ''}.
    keystores, engines: the planned keystore hosts and engines.
    settings: tls (bool), acl (bool), tls_files ({host: {ca, cert, key}} for every engine and keystore host, or {}).
    """
    problems = []
    cluster = [name for name in list(keystores) + [name for name in engines if name not in keystores] if name in hosts]
    with_tls = [name for name in cluster if hosts[name].get("tls")]
    with_master = [name for name in keystores if name in hosts and hosts[name].get("master")]
    with_token = [name for name in engines if name in hosts and hosts[name].get("token")]
    tls, acl = bool(with_tls), bool(with_master)
    if (tls or acl or with_token) and backend != "consul":
        problems.append("TLS and ACL tokens to the keystore are supported with Consul only, and the keystore backend is "
                        "%s: remove mhnet_keystore_tls, keystore_acl_master_token and engine_keystore_token, or set "
                        "mhnet_keystore_backend: consul" % backend)
        return problems, dict(tls=False, acl=False, tls_files={})
    if tls:
        without = [name for name in cluster if name not in with_tls]
        if without:
            problems.append("mhnet_keystore_tls is set on %s but not on %s: Consul then serves only HTTPS with client "
                            "certificates, so every engine and keystore host needs its CA, certificate and key"
                            % (", ".join(with_tls), ", ".join(without)))
        for name in with_tls:
            problems += _tls_problems(name, hosts[name]["tls"], exists)
    problems += _acl_problems(hosts, keystores, engines, with_master, with_token, tls)
    files = dict((name, dict((key, hosts[name]["tls"].get(key)) for key in TLS_FILES)) for name in with_tls
                 if isinstance(hosts[name]["tls"], dict))
    return problems, dict(tls=tls, acl=acl, tls_files=files if tls else {})


def _acl_problems(hosts, keystores, engines, with_master, with_token, tls):
    if not with_master:
        return ["%s: engine_keystore_token is set but no keystore host sets keystore_acl_master_token, so Consul runs "
                "without ACLs: set keystore_acl_master_token on the keystore hosts, or remove engine_keystore_token"
                % name for name in with_token]
    present = [name for name in keystores if name in hosts]
    problems = []
    without = [name for name in present if name not in with_master]
    if without:
        problems.append("keystore_acl_master_token is set on %s but not on %s: every Consul server needs the same "
                        "management token" % (", ".join(with_master), ", ".join(without)))
    if len(set(hosts[name]["master"] for name in with_master)) > 1:
        problems.append("keystore_acl_master_token differs between %s: give every keystore host the same token"
                        % ", ".join(with_master))
    engine_tokens = set(hosts[name].get("engine_token") for name in with_master)
    if "" in engine_tokens or None in engine_tokens:
        problems.append("keystore_acl_master_token is set but keystore_acl_engine_token is not (on %s): the keystore "
                        "creates the engines' token (read and write under docker/ only) with that secret, a UUID"
                        % ", ".join(name for name in with_master if not hosts[name].get("engine_token")))
        return problems
    if len(engine_tokens) > 1:
        problems.append("keystore_acl_engine_token differs between %s: give every keystore host the same token"
                        % ", ".join(with_master))
    bad = [name for name in with_master if not hosts[name].get("engine_token_uuid")]
    if bad:
        problems.append("keystore_acl_engine_token on %s is not a UUID (such as the output of uuidgen): Consul accepts "
                        "a token's secret only in that form" % ", ".join(bad))
    if any(hosts[name]["engine_token"] == hosts[name]["master"] for name in with_master):
        problems.append("keystore_acl_engine_token is the management token: give the engines a token of their own, "
                        "so that an engine's files do not hold the key to the whole store")
    wanted = hosts[with_master[0]]["engine_token"]
    for name in engines:
        if name not in hosts:
            continue
        if not hosts[name].get("token"):
            problems.append("%s: Consul runs with ACLs (default deny) but engine_keystore_token is not set: give it the "
                            "value of keystore_acl_engine_token" % name)
        elif hosts[name]["token"] != wanted:
            problems.append("%s: engine_keystore_token differs from keystore_acl_engine_token: the engine would be "
                            "refused by Consul; set both from one (vaulted) variable" % name)
    if not tls:
        problems.append("keystore_acl_master_token is set without mhnet_keystore_tls: the tokens would cross the network "
                        "in clear; give every engine and keystore host mhnet_keystore_tls")
    return problems
