"""Day 2 backups in swarm mode (issue 10), in order on one lab: back up the Raft state from a follower, take every
node out of the swarm, restore the archive onto the host it came from (the Raft state keeps its address) with
--force-new-cluster, check that the service and the networks are listed with the same IDs, then run site.yml to join
the others again and fetch the page.

The tests depend on each other (one story); each records its step's time in STEPS, printed at the end.
"""

import json
import os
import stat
import subprocess
import tarfile
import time

import pytest

PLAYBOOKS = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks")
INVENTORY = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
ARCHIVE = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "swarm-backup.tar.gz")
ENGINES = ["mhs-demo0", "mhs-demo1", "mhs-demo2"]
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
def hosts(lab_hosts):
    return [lab_hosts[name] for name in ENGINES]


def ids(host, docker):
    services = dict(line.split() for line in docker(host, "service", "ls", "--format", "{{.Name}} {{.ID}}").splitlines())
    networks = dict(line.split() for line in docker(host, "network", "ls", "--filter", "driver=overlay",
                                                    "--format", "{{.Name}} {{.ID}}").splitlines())
    networks.pop("ingress", None)  # a new cluster gets a new ingress network
    return services, networks


def nodes(host, docker):
    rows = docker(host, "node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.ManagerStatus}}").splitlines()
    return [row.split() for row in rows]


def test_a_service_and_a_network_of_the_user(hosts, busybox, docker):
    manager = hosts[0]
    manager.run("docker service rm backup-svc; docker network rm backup-net")  # a second verify starts afresh
    docker(manager, "network", "create", "--driver", "overlay", "--attachable", "--subnet", "10.0.19.0/24", "backup-net")
    docker(manager, "service", "create", "--detach", "--name", "backup-svc", "--network", "backup-net", busybox,
           "sleep", "86400")
    STATE["before"] = ids(manager, docker)
    STATE["leader"] = [row[0] for row in nodes(manager, docker) if "Leader" in row][0]
    assert "backup-svc" in STATE["before"][0] and {"backup-net", "my-net"} <= set(STATE["before"][1])


def test_backup_archives_a_follower_and_fetches_it_with_mode_0600(hosts, docker):
    rc, out = playbook("swarm_backup.yml", "-v", "-e", "swarm_backup_path=" + ARCHIVE)
    assert rc == 0, out[-3000:]
    mode = stat.S_IMODE(os.stat(ARCHIVE).st_mode)
    assert mode == 0o600, oct(mode)
    with tarfile.open(ARCHIVE) as archive:
        names = archive.getnames()
    assert "swarm/raft" in names and "swarm/certificates" in names, names[:20]
    # The follower came back: every node Ready and reachable, the leader unchanged.
    rows = nodes(hosts[0], docker)
    assert all(row[1] == "Ready" for row in rows), rows
    assert [row[0] for row in rows if "Leader" in row] == [STATE["leader"]], rows
    assert "Unreachable" not in " ".join(" ".join(row) for row in rows), rows
    chosen = [line for line in out.splitlines() if '"chosen"' in line]
    STATE["chosen"] = chosen[0].split('"chosen": "')[1].split('"')[0] if chosen else ""
    assert STATE["chosen"] and STATE["chosen"] != STATE["leader"], (STATE, out[-3000:])


def test_every_node_leaves_the_swarm(hosts, docker):
    for host in reversed(hosts):
        docker(host, "swarm", "leave", "--force")
    for host in hosts:
        assert docker(host, "info", "--format", "{{.Swarm.LocalNodeState}}") == "inactive"


def test_restore_onto_another_address_is_refused_before_any_change(hosts, docker):
    other = [name for name in ENGINES if name != STATE["chosen"]][0]
    rc, out = playbook("swarm_restore.yml", "-e", "swarm_restore_path=" + ARCHIVE, "-e", "swarm_restore_host=" + other)
    assert rc != 0 and "the archive was made on the manager advertising" in out, out[-3000:]
    assert all(docker(host, "info", "--format", "{{.Swarm.LocalNodeState}}") == "inactive" for host in hosts)


def test_restore_onto_the_backed_up_managers_host_brings_back_the_service_and_networks_with_their_ids(lab_hosts, docker):
    rc, out = playbook("swarm_restore.yml", "-e", "swarm_restore_path=" + ARCHIVE)
    assert rc == 0, out[-3000:]
    manager = lab_hosts[STATE["chosen"]]
    assert docker(manager, "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}") == "active true"
    after = ids(manager, docker)
    STATE["after"] = after
    print("IDs before: %s\nIDs after restore: %s" % (STATE["before"], after))
    assert after == STATE["before"]
    # The other engines' old entries are gone: only the restored node is listed.
    rows = nodes(manager, docker)
    assert [row[:2] for row in rows] == [[STATE["chosen"], "Ready"]], rows
    spec = json.loads(docker(manager, "service", "inspect", "backup-svc"))[0]["Spec"]
    assert spec["TaskTemplate"]["ContainerSpec"]["Args"] == ["sleep", "86400"]


def test_the_standalone_containers_are_removed_for_site_to_run_them_again(hosts, docker):
    # Leaving the swarm detached the containers run with `docker run --network` on swarm networks (web, and the
    # probes on my-net and mhnet_app); they kept running without a network. Their nodes are not back in the swarm
    # yet, so they are removed and site.yml runs them again (the README's restore steps).
    for host in hosts:
        host.run("docker rm --force web probe mhnet-probe")
        assert docker(host, "ps", "--all", "--filter", "name=^(web|probe|mhnet-probe)$", "--quiet") == ""


def test_site_joins_the_others_again_and_the_page_crosses_hosts(hosts, fetch_page, docker, run_site):
    started = time.monotonic()
    rc, out = run_site()
    STEPS.append(("site.yml (rejoin)", round(time.monotonic() - started, 1)))
    assert rc == 0, out[-3000:]
    rows = nodes(hosts[0], docker)
    assert sorted(row[0] for row in rows) == ENGINES and all(row[1] == "Ready" for row in rows), rows
    STATE["after_site"] = ids(hosts[0], docker)
    assert STATE["after_site"] == STATE["before"]
    assert "Welcome to nginx!" in fetch_page(hosts[-1])
    assert "Welcome to nginx!" in fetch_page(hosts[-1], "mhnet_app")


def test_zz_report_step_times():
    # Also written to .cache/backup/ (molecule's destroy removes its own directory): the IDs and each step's time.
    directory = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], ".cache", "backup")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "backup-report.json"), "w") as handle:
        json.dump(dict(state=STATE, steps=STEPS), handle, indent=1)
    for step, seconds in STEPS:
        print("%-70s %6.1f s" % (step, seconds))
