"""Key-value mode, day 2 (runs first in the default scenario and puts the cluster back as it was): an engine leaves
with mhnet_state: absent (its daemon.json loses the store keys, the user's stay; the store forgets it; no other
engine restarts), then joins again (only it restarts)."""

import json
import re
import shlex

import pytest
import yaml

STORE_KEYS = ("cluster-store", "cluster-advertise", "cluster-store-opts")


def changed_counts(output):
    return dict((host, int(count)) for host, count in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.MULTILINE))


def engine_started(host):
    """When the host's engine last started: a restart changes it."""
    return host.check_output("systemctl show -p ActiveEnterTimestampMonotonic docker.service")


def registered(keystore, lab_vars):
    """The engines the store lists under docker/nodes/, read on the keystore host."""
    url = "http://%s:8500/v1/kv/docker/nodes/?keys" % lab_vars["mh-keystore"]["mhnet_cluster_address"]
    script = ("import sys, urllib.request, urllib.error\ntry: print(urllib.request.urlopen(sys.argv[1]).read().decode())\n"
              "except urllib.error.HTTPError as e: print('[]' if e.code == 404 else sys.exit(e))")
    answer = keystore.check_output("python3 -c %s %s" % (shlex.quote(script), shlex.quote(url)))
    return sorted(key.rsplit("/", 1)[1] for key in json.loads(answer or "[]"))


@pytest.fixture()
def leaving(tmp_path):
    path = tmp_path / "states.yml"
    path.write_text(yaml.safe_dump(dict(mhnet_state="{{ 'absent' if inventory_hostname == 'mhs-demo1' else 'present' }}")))
    return "@%s" % path


def test_an_engine_leaves_and_joins_again_and_no_other_engine_restarts(lab_hosts, lab_vars, run_site, leaving, fetch_page):
    demo0, demo1, keystore = lab_hosts["mhs-demo0"], lab_hosts["mhs-demo1"], lab_hosts["mh-keystore"]
    demo1_address = "%s:2376" % lab_vars["mhs-demo1"]["mhnet_cluster_address"]
    assert demo1_address in registered(keystore, lab_vars)
    demo0_config, demo0_started = demo0.check_output("cat /etc/docker/daemon.json"), engine_started(demo0)

    rc, output = run_site("-e", leaving)
    assert rc == 0, output[-3000:]
    config = json.loads(demo1.check_output("cat /etc/docker/daemon.json"))
    assert not set(config) & set(STORE_KEYS) and config.get("labels") == ["mhnet.prepared=kept"], config
    assert demo1_address not in registered(keystore, lab_vars)
    assert not demo1.check_output("docker ps -a --format '{{.Names}}'").split(), "the leaving host keeps no container of ours"
    assert changed_counts(output)["mh-keystore"] == 0
    assert (demo0.check_output("cat /etc/docker/daemon.json"), engine_started(demo0)) == (demo0_config, demo0_started)
    rc, output = run_site("-e", leaving)
    assert rc == 0 and set(changed_counts(output).values()) == {0}, output[-3000:]

    rc, output = run_site()
    assert rc == 0, output[-3000:]
    assert demo1_address in registered(keystore, lab_vars)
    assert (demo0.check_output("cat /etc/docker/daemon.json"), engine_started(demo0)) == (demo0_config, demo0_started)
    assert "Welcome to nginx!" in fetch_page(demo1)
