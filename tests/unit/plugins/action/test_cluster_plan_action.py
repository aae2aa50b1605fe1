"""cluster_plan's action plugin on a fake inventory: what it reads of hostvars and groups, and what it returns.

The rules themselves are module_utils/_plan.py's (test_plan.py); these tests cover the plugin's own part: argument
validation, the default overlay list, the facts it reads (ansible_facts.mhnet_host, not an injected copy), the
keystore port TLS implies, paths resolved on the controller, secrets never in the result, one failure listing
every problem.
"""

import json
from unittest import mock

import pytest
from ansible.module_utils._internal import _traceback

TOKEN = "5e6e2b3c-6d43-4d2c-9d1a-0c3f0e0d4e11"  # a secret: must never reach the result


def facts(name, address):
    return dict(hostname=name, cluster_address=address, cluster_interface="eth1", cluster_mtu=1500, cluster_prefix=24,
                engine_version="20.10.5+dfsg1", problems=[], swarm_state="inactive", swarm_node_id="", swarm_manager=False,
                swarm_cluster_id="", swarm_managers=[], listening=[])


def inventory(**extra):
    """hostvars, groups and play hosts of the tutorial; extra: {host: {variable: value}}."""
    addresses = {"mh-keystore": "192.168.151.2", "mhs-demo0": "192.168.151.3", "mhs-demo1": "192.168.151.4"}
    hostvars = dict((name, dict(dict(ansible_facts=dict(mhnet_host=facts(name, address))), **extra.get(name, {})))
                    for name, address in addresses.items())
    return dict(hostvars=hostvars, groups=dict(keystore=["mh-keystore"], docker_hosts=["mhs-demo0", "mhs-demo1"]),
                ansible_play_hosts_all=sorted(addresses))


@pytest.fixture()
def run(monkeypatch, tmp_path):
    """run(args, task_vars) -> the plugin's result; the controller's imports happen here (see test_image_archive_action).
    Relative paths are resolved in tmp_path, the playbook's directory."""
    monkeypatch.setattr(_traceback, "_is_traceback_enabled", _traceback._is_traceback_enabled)
    from ansible_collections.mhnet.cluster.plugins.action.cluster_plan import ActionModule

    def run_plugin(args, task_vars):
        task = mock.Mock(args=args, check_mode=False, diff=False, async_val=0, action="mhnet.cluster.cluster_plan")
        loader = mock.Mock()
        loader.path_dwim.side_effect = lambda path: str(tmp_path / path)
        action = ActionModule(task, mock.Mock(), play_context=mock.Mock(), loader=loader, templar=mock.Mock())
        return action.run(task_vars=task_vars)
    return run_plugin


def test_the_tutorial_gets_its_plan_with_the_default_network_resolved(run):
    result = run({}, inventory())
    assert not result.get("failed") and result["changed"] is False and result["problems"] == []
    plan = result["plan"]
    assert (plan["mode"], plan["engines"], plan["keystore"]["url"]) == ("kv", ["mhs-demo0", "mhs-demo1"], "consul://192.168.151.2:8500")
    assert plan["overlay"]["networks"] == [dict(name="my-net", ipam_config=[dict(subnet="10.0.9.0/24")], attachable=False)]
    assert (plan["keystore"]["tls"], plan["keystore"]["acl"]) == (False, False)


def test_the_plugin_reads_ansible_facts_not_an_injected_top_level_copy(run):
    task_vars = inventory()
    stale = task_vars["hostvars"]["mhs-demo1"]
    stale["mhnet_host"] = facts("mhs-demo1", "192.168.151.99")  # what INJECT_FACTS_AS_VARS would leave behind
    assert run({}, task_vars)["plan"]["members"]["mhs-demo1"]["address"] == "192.168.151.4"


def test_a_host_that_did_not_report_and_a_bad_setting_fail_once_listing_every_problem(run):
    task_vars = inventory(**{"mhs-demo1": dict(mhnet_swarm_role="manager")})
    del task_vars["hostvars"]["mhs-demo0"]["ansible_facts"]
    result = run({}, task_vars)
    assert result["failed"] is True and "plan" not in result
    assert result["problems"][0].startswith("mhs-demo0: preflight did not report")
    assert any(problem.startswith("mhs-demo1: mhnet_swarm_role is set but the cluster runs in key-value mode")
               for problem in result["problems"])
    assert result["msg"].startswith("preflight found %d problem(s); nothing was changed:\n- " % len(result["problems"]))


def test_an_unknown_argument_is_refused_by_the_argument_spec(run):
    from ansible.errors import AnsibleActionFail
    with pytest.raises(AnsibleActionFail, match="Unsupported parameters .*keystore_prot"):
        run(dict(mode="kv", keystore_prot=8500), inventory())


def test_tls_defaults_consuls_port_to_https_and_resolves_paths_on_the_controller(run, tmp_path):
    (tmp_path / "tls").mkdir()
    for name in ("ca", "cert", "key"):
        (tmp_path / "tls" / (name + ".pem")).write_text("PEM")
    tls = dict(mhnet_keystore_tls=dict(ca="tls/ca.pem", cert="tls/cert.pem", key="tls/key.pem"))
    result = run({}, inventory(**dict((name, tls) for name in ("mh-keystore", "mhs-demo0", "mhs-demo1"))))
    assert result["problems"] == []
    keystore = result["plan"]["keystore"]
    assert (keystore["port"], keystore["url"], keystore["tls"]) == (8501, "consul://192.168.151.2:8501", True)
    assert keystore["tls_files"]["mhs-demo0"]["ca"] == str(tmp_path / "tls" / "ca.pem")


def test_a_tls_file_missing_on_the_controller_is_a_problem(run):
    tls = dict(mhnet_keystore_tls=dict(ca="tls/ca.pem", cert="tls/cert.pem", key="tls/key.pem"))
    result = run({}, inventory(**dict((name, tls) for name in ("mh-keystore", "mhs-demo0", "mhs-demo1"))))
    assert result["failed"] is True
    assert "mh-keystore: mhnet_keystore_tls.ca " in result["msg"] and "is not a file on the controller" in result["msg"]


def test_acl_tokens_never_reach_the_result_and_need_tls(run):
    tokens = dict(keystore_acl_master_token=TOKEN, keystore_acl_engine_token="0b8e4c1e-2c9f-4d7a-8e55-7f3c1a9d2b60")
    result = run({}, inventory(**{"mh-keystore": tokens, "mhs-demo0": dict(engine_keystore_token="0b8e4c1e-2c9f-4d7a-8e55-7f3c1a9d2b60"),
                                  "mhs-demo1": dict(engine_keystore_token="0b8e4c1e-2c9f-4d7a-8e55-7f3c1a9d2b60")}))
    text = json.dumps(result)
    assert TOKEN not in text and "0b8e4c1e" not in text
    assert result["problems"] == ["keystore_acl_master_token is set without mhnet_keystore_tls: the tokens would cross the "
                                  "network in clear; give every engine and keystore host mhnet_keystore_tls"]


APP_NET = [dict(name="app-net", ipam_config=[dict(subnet="10.0.19.0/24")])]


def test_the_engines_networks_are_planned_not_those_of_the_host_the_task_runs_on(run):
    # the consumer fixture's shape: overlay_networks in the docker group's group_vars, the task run once on the keystore
    engines = dict(overlay_networks=APP_NET, workload_network="app-net")
    result = run({}, inventory(**{"mhs-demo0": engines, "mhs-demo1": engines}))
    assert [network["name"] for network in result["plan"]["overlay"]["networks"]] == ["app-net"]
    # the workload role's default network, which the list does not create, is refused with the other problems
    result = run({}, inventory(**{"mhs-demo0": dict(overlay_networks=APP_NET), "mhs-demo1": dict(overlay_networks=APP_NET)}))
    assert result["failed"] and result["problems"][0].startswith("the workload runs web and the probe on network 'my-net'")
    # a run that skips the workload passes ''
    assert not run(dict(workload_network=""), inventory(**{"mhs-demo0": dict(overlay_networks=APP_NET),
                                                           "mhs-demo1": dict(overlay_networks=APP_NET)})).get("failed")


@pytest.mark.parametrize("demo1, says", [
    pytest.param({}, "mhs-demo1 leaves it unset", id="unset on one"),
    pytest.param(dict(overlay_networks=[dict(name="other")]), "mhs-demo1 another", id="another list"),
])
def test_engines_that_disagree_on_their_networks_are_refused(run, demo1, says):
    result = run({}, inventory(**{"mhs-demo0": dict(overlay_networks=APP_NET), "mhs-demo1": demo1}))
    assert result["failed"] is True
    assert result["problems"][0] == ("overlay_networks is not the same on every engine: mhs-demo0 sets one list, %s: set "
                                     "it once for all of them (the docker group's group_vars, or -e)" % says)


def test_networks_that_are_not_a_list_are_refused_naming_the_host(run):
    result = run({}, inventory(**{"mhs-demo0": dict(overlay_networks="my-net"), "mhs-demo1": dict(overlay_networks="my-net")}))
    assert result["problems"][:2] == ['mhs-demo0: overlay_networks is "my-net", not a list: give a list of networks, each a '
                                      'mapping with a name', 'mhs-demo1: overlay_networks is "my-net", not a list: give a '
                                      'list of networks, each a mapping with a name']


def test_ports_out_of_range_fail_with_the_other_problems_and_unset_ones_take_the_defaults(run):
    task_vars = inventory(**{"mhs-demo1": dict(engine_advertise_port="70000")})
    result = run(dict(keystore_port=0), task_vars)
    assert result["failed"] is True
    assert [problem.split(",")[0] for problem in result["problems"]] == [
        "mhnet_keystore_port is 0", "mhs-demo1: engine_advertise_port is 70000"]
    assert run(dict(mode="swarm"), inventory())["plan"]["swarm"]["port"] == 2377


class PlanTemplate(dict):
    """hostvars whose keystore_image is the role's template of the plan, which does not exist yet."""

    def get(self, key, default=None):
        if key == "keystore_image":
            raise RuntimeError("'mhnet_cluster' is undefined")
        return super().get(key, default)


def test_the_plugin_reads_each_hosts_images_source_images_list_and_image_variables(run):
    task_vars = inventory()
    for name, host in task_vars["hostvars"].items():
        host["ansible_facts"]["mhnet_host"].update(engine_reachable=True, engine_images=["busybox:latest"])
        host.update(images_source="archive", images_list=[dict(name="hashicorp/consul:1.8.7", archive="consul.tar"), "junk"],
                    workload_web_image="nginx:1.27")
        task_vars["hostvars"][name] = PlanTemplate(host)
    result = run({}, task_vars)
    # consul: named by images_list; busybox: on the engines; nginx:1.27 (the host's own variable): nowhere.
    assert result["problems"] == [
        "mhs-demo0: workload_web_image is nginx:1.27, which the host's engine does not have and no images_list entry names "
        "(images_source archive: nothing will load it): add it to images_list with its archive, load it on the host, "
        "or set workload_web_image to an image the host has"]
    assert not run(dict(image_phases=["keystore"]), task_vars).get("failed")
