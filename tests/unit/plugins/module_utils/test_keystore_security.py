"""TLS and ACL rules of the keystore (module_utils/_keystore_security.py), on plain dicts."""

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils._keystore_security import (
    CONSUL_HTTPS_PORT,
    is_uuid,
    keystore_security,
    tls_requested,
)

KEYSTORES, ENGINES = ["mh-keystore"], ["mhs-demo0", "mhs-demo1"]
FILES = {"/tls/ca.pem", "/tls/mh-keystore.pem", "/tls/mh-keystore-key.pem", "/tls/mhs-demo0.pem",
         "/tls/mhs-demo0-key.pem", "/tls/mhs-demo1.pem", "/tls/mhs-demo1-key.pem"}


def tls(name):
    return dict(ca="/tls/ca.pem", cert="/tls/%s.pem" % name, key="/tls/%s-key.pem" % name)


def hosts(with_tls=True, master="m", engine_token="e", uuid=True, token="e", **overrides):
    """Every host of the tutorial; ACL digests set on every host (as group_vars 'all' would)."""
    found = {}
    for name in KEYSTORES + ENGINES:
        found[name] = dict(tls=tls(name) if with_tls else {}, master=master, engine_token=engine_token,
                           engine_token_uuid=uuid, token=token)
    for name, values in overrides.items():
        found[name.replace("_", "-")].update(values)
    return found


def check(found, backend="consul"):
    return keystore_security(backend, found, KEYSTORES, ENGINES, exists=FILES.__contains__)


def test_tls_and_acl_together_pass_and_name_each_hosts_files():
    problems, settings = check(hosts())
    assert problems == []
    assert settings["tls"] is True and settings["acl"] is True
    assert settings["tls_files"]["mhs-demo1"] == tls("mhs-demo1")
    assert sorted(settings["tls_files"]) == sorted(KEYSTORES + ENGINES)


def test_nothing_set_means_neither():
    assert check(hosts(with_tls=False, master="", engine_token="", token="")) == ([], dict(tls=False, acl=False, tls_files={}))


def test_tls_without_acl_passes():
    problems, settings = check(hosts(master="", engine_token="", token=""))
    assert problems == [] and settings["tls"] and not settings["acl"]


@pytest.mark.parametrize("overrides, expected", [
    (dict(mhs_demo1=dict(tls={})), "mhnet_keystore_tls is set on mh-keystore, mhs-demo0 but not on mhs-demo1"),
    (dict(mhs_demo0=dict(tls=dict(ca="/tls/ca.pem", cert="/tls/mhs-demo0.pem"))),
     "mhs-demo0: mhnet_keystore_tls has ca and cert but no key"),
    (dict(mhs_demo0=dict(tls=dict(tls("mhs-demo0"), key="/tls/gone.pem"))),
     "mhs-demo0: mhnet_keystore_tls.key /tls/gone.pem is not a file on the controller"),
    (dict(mhs_demo0=dict(tls=dict(tls("mhs-demo0"), crt="/tls/x"))), "unknown key 'crt'"),
    (dict(mhs_demo0=dict(tls="/tls/ca.pem")), "mhs-demo0: mhnet_keystore_tls must be a mapping"),
])
def test_bad_tls_input_is_refused_naming_the_host(overrides, expected):
    problems, dummy = check(hosts(**overrides))
    assert any(expected in problem for problem in problems), problems


def test_etcd_with_tls_or_a_token_is_refused():
    problems, settings = check(hosts(), backend="etcd")
    assert len(problems) == 1 and "supported with Consul only" in problems[0]
    assert settings == dict(tls=False, acl=False, tls_files={})
    assert check(hosts(with_tls=False, master="", engine_token="", token=""), backend="etcd")[0] == []


@pytest.mark.parametrize("found, expected", [
    (hosts(master="", engine_token=""), "mhs-demo0: engine_keystore_token is set but no keystore host sets"),
    (hosts(engine_token=""), "keystore_acl_engine_token is not (on mh-keystore)"),
    (hosts(uuid=False), "keystore_acl_engine_token on mh-keystore is not a UUID"),
    (hosts(engine_token="m", token="m"), "keystore_acl_engine_token is the management token"),
    (hosts(mhs_demo1=dict(token="")), "mhs-demo1: Consul runs with ACLs (default deny) but engine_keystore_token is not set"),
    (hosts(mhs_demo1=dict(token="other")), "mhs-demo1: engine_keystore_token differs from keystore_acl_engine_token"),
    (hosts(with_tls=False), "keystore_acl_master_token is set without mhnet_keystore_tls"),
])
def test_bad_acl_input_is_refused(found, expected):
    problems, dummy = check(found)
    assert any(expected in problem for problem in problems), problems


def test_three_keystores_must_agree():
    found = hosts()
    for name in ("mh-keystore1", "mh-keystore2"):
        found[name] = dict(found["mh-keystore"], tls=dict(ca="/tls/ca.pem", cert="/tls/mh-keystore.pem",
                                                          key="/tls/mh-keystore-key.pem"))
    found["mh-keystore1"]["master"] = ""
    found["mh-keystore2"]["master"] = "other"
    problems, dummy = keystore_security("consul", found, ["mh-keystore", "mh-keystore1", "mh-keystore2"], ENGINES,
                                        exists=FILES.__contains__)
    assert any("but not on mh-keystore1" in problem for problem in problems), problems
    assert any("keystore_acl_master_token differs between mh-keystore, mh-keystore2" in problem for problem in problems)


def test_messages_never_hold_a_digest():
    problems, dummy = check(hosts(mhs_demo1=dict(token="f" * 64)))
    assert problems and not any("f" * 16 in problem for problem in problems)


def test_helpers():
    assert is_uuid("6a1f3c2e-9b4d-4e2a-8f0c-1d2e3f4a5b6c") and not is_uuid("root") and not is_uuid(None)
    assert tls_requested(hosts()) and not tls_requested(hosts(with_tls=False))
    assert CONSUL_HTTPS_PORT == 8501
