"""keystore_acl against the fake Consul of conftest.py (a real HTTP server on 127.0.0.1): created, then left alone;
rules or a token drifted, repaired; check mode reads only; secrets never in the result."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mhnet.cluster.plugins.module_utils._store_client import StoreError
from ansible_collections.mhnet.cluster.plugins.modules import keystore_acl

RULES = 'key_prefix "docker/" { policy = "write" }\n'


def params(consul, **changes):
    result = dict(backend="consul", host="127.0.0.1", port=consul.port, tls_ca=None, tls_cert=None, tls_key=None,
                  token="mgmt-secret", timeout=10, policy_name="mhnet-engines", policy_description="engines",
                  policy_rules=RULES, engine_token="engine-secret", engine_token_description="mhnet engines")
    result.update(changes)
    return result


def writes(consul):
    return [(method, path) for method, path, dummy in consul.requests if method != "GET"]


def test_first_run_creates_both_and_a_second_run_changes_nothing(consul):
    result = keystore_acl.ensure(params(consul), False)
    assert (result["changed"], result["policy"], result["engine_token"]) == (True, "created", "created")
    assert writes(consul) == [("PUT", "/v1/acl/policy"), ("PUT", "/v1/acl/token")]
    (policy,) = consul.policies.values()
    assert (policy["Name"], policy["Rules"], policy["Description"]) == ("mhnet-engines", RULES, "engines")
    (token,) = consul.tokens.values()
    assert token["SecretID"] == "engine-secret" and [p["Name"] for p in token["Policies"]] == ["mhnet-engines"]

    consul.requests.clear()
    again = keystore_acl.ensure(params(consul), False)
    assert (again["changed"], again["policy"], again["engine_token"]) == (False, "unchanged", "unchanged")
    assert writes(consul) == []
    assert again["diff"]["before"] == again["diff"]["after"]


def test_drifted_rules_and_a_token_without_the_policy_are_updated_in_place(consul):
    keystore_acl.ensure(params(consul), False)
    (policy_id,) = consul.policies
    (accessor,) = consul.tokens
    consul.policies[policy_id]["Rules"] = "edited by hand"
    consul.tokens[accessor]["Policies"] = []
    consul.requests.clear()
    result = keystore_acl.ensure(params(consul), False)
    assert (result["policy"], result["engine_token"]) == ("updated", "updated")
    assert writes(consul) == [("PUT", "/v1/acl/policy/" + policy_id), ("PUT", "/v1/acl/token/" + accessor)]
    assert consul.policies[policy_id]["Rules"] == RULES and len(consul.tokens) == 1
    assert result["diff"]["before"]["policy"]["rules"] == "edited by hand"
    assert result["diff"]["after"] == dict(policy=dict(name="mhnet-engines", rules=RULES),
                                           token=dict(description="mhnet engines", policies=["mhnet-engines"]))


def test_check_mode_reads_only_and_says_what_it_would_do(consul):
    result = keystore_acl.ensure(params(consul), True)
    assert (result["changed"], result["policy"], result["engine_token"]) == (True, "created", "created")
    assert writes(consul) == [] and not consul.policies and not consul.tokens
    assert result["diff"]["before"] == dict(policy=None, token=None)


def test_a_wrong_management_token_fails_naming_the_store_and_the_request(consul):
    with pytest.raises(StoreError, match=r"consul keystore at http://127.0.0.1:%d answered GET "
                                         r"/v1/acl/policy/name/mhnet-engines with "
                                         r"HTTP 403 \(Permission denied\)" % consul.port):
        keystore_acl.ensure(params(consul, token="wrong"), False)
    assert not consul.policies


@pytest.mark.parametrize("changes, message", [
    (dict(backend="etcd", token=None), "manages Consul's ACLs and the backend is etcd"),
    (dict(token=None), "needs token, Consul's management token"),
])
def test_refused_before_any_request(consul, changes, message):
    with pytest.raises(StoreError, match=message):
        keystore_acl.ensure(params(consul, **changes), False)
    assert consul.requests == []


def run_main(capsys, consul, diff=False, check=False):
    args = dict(host="127.0.0.1", port=consul.port, token="mgmt-secret", policy_name="mhnet-engines",
                policy_rules=RULES, engine_token="engine-secret", _ansible_diff=diff, _ansible_check_mode=check)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            keystore_acl.main()
    return capsys.readouterr().out


def test_main_returns_the_diff_only_in_diff_mode_and_never_a_secret(capsys, consul):
    plain = json.loads(run_main(capsys, consul, check=True))
    assert plain["changed"] is True and "diff" not in plain
    out = run_main(capsys, consul, diff=True)
    assert json.loads(out)["diff"]["after"]["policy"]["name"] == "mhnet-engines"
    assert "engine-secret" not in out and "mgmt-secret" not in out
    assert json.loads(run_main(capsys, consul))["changed"] is False
