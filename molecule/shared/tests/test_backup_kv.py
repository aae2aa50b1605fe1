"""Day 2 backups in key-value mode (issue 10), in order on one lab: save a Consul snapshot, lose the store (its
container and data volume), make a blank one with site.yml's keystore phase, restore the snapshot, and check that
every engine lists my-net with the ID it had and that the page is fetched across hosts.

The tests depend on each other (one story); each records its step's time in STEPS, printed at the end.
"""

import json
import os
import stat
import subprocess
import time

import pytest

PLAYBOOKS = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks")
INVENTORY = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
SNAPSHOT = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "keystore.snap")
ENGINES = ["mhs-demo0", "mhs-demo1"]
STATE = {}
STEPS = []


def playbook(name, *args):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    started = time.monotonic()
    result = subprocess.run(["ansible-playbook", "-i", INVENTORY, os.path.join(PLAYBOOKS, name), *args],
                            capture_output=True, text=True, timeout=900, check=False, env=env)
    STEPS.append((name + " " + " ".join(args), round(time.monotonic() - started, 1)))
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def engines(lab_hosts):
    return [lab_hosts[name] for name in ENGINES]


@pytest.fixture(scope="module")
def keystore(lab_hosts):
    return lab_hosts["mh-keystore"]


def my_net_ids(engines, docker):
    return [docker(engine, "network", "inspect", "--format", "{{.Id}}", "my-net") for engine in engines]


def test_snapshot_is_saved_to_the_controller_with_mode_0600(engines, docker):
    STATE["before"] = my_net_ids(engines, docker)
    assert len(set(STATE["before"])) == 1
    rc, out = playbook("keystore_backup.yml", "-e", "keystore_backup_path=" + SNAPSHOT)
    assert rc == 0, out[-3000:]
    assert stat.S_IMODE(os.stat(SNAPSHOT).st_mode) == 0o600
    assert os.path.getsize(SNAPSHOT) > 0


def test_the_store_is_lost_and_made_again_blank(keystore, lab_vars, docker, run_site):
    docker(keystore, "rm", "--force", "consul")
    docker(keystore, "volume", "rm", "consul-data")
    started = time.monotonic()
    rc, out = run_site("--tags", "keystore")
    STEPS.append(("site.yml --tags keystore", round(time.monotonic() - started, 1)))
    assert rc == 0, out[-3000:]
    address = lab_vars["mh-keystore"]["mhnet_cluster_address"]
    keys = keystore.run("python3 -c \"import urllib.request; print(urllib.request.urlopen("
                        "'http://%s:8500/v1/kv/docker/network/?keys').read())\"" % address)
    assert keys.rc != 0, keys.stdout  # HTTP 404: the blank store holds no network keys


def test_restore_gives_my_net_its_id_back_on_every_engine(engines, docker):
    rc, out = playbook("keystore_restore.yml", "-e", "keystore_restore_path=" + SNAPSHOT)
    assert rc == 0, out[-3000:]
    STATE["after"] = my_net_ids(engines, docker)
    print("my-net IDs before: %s\nmy-net IDs after restore: %s" % (STATE["before"], STATE["after"]))
    assert STATE["after"] == STATE["before"]


def test_site_runs_and_the_page_crosses_hosts(engines, fetch_page, docker, run_site):
    started = time.monotonic()
    rc, out = run_site()
    STEPS.append(("site.yml", round(time.monotonic() - started, 1)))
    assert rc == 0, out[-3000:]
    assert my_net_ids(engines, docker) == STATE["before"]
    assert "Welcome to nginx!" in fetch_page(engines[-1])


def test_zz_report_step_times():
    # Also written to .cache/backup/ (molecule's destroy removes its own directory): the IDs and each step's time.
    directory = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], ".cache", "backup")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "backup_kv-report.json"), "w") as handle:
        json.dump(dict(state=STATE, steps=STEPS), handle, indent=1)
    for step, seconds in STEPS:
        print("%-70s %6.1f s" % (step, seconds))
