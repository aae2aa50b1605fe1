"""The rolling restart (playbooks/rolling_restart.yml) under traffic, in both modes, on the scenario's lab.

Swarm mode (converge's cluster: three trixie managers, Docker 26.1.5): a replicated service (2 nginx tasks, DNS round
robin on my-net: the lab's hosts have no IPVS for a virtual IP). Key-value mode (the test builds it with site.yml on
three bullseye hosts: Consul and two engines 20.10.5): two nginx containers on my-net sharing the alias rolling-web,
one per engine.

Each is fetched by a client loop on every engine: busybox on the overlay fetching http://rolling-web every 0.2 s,
bounded in time and count, each outcome appended to a file on its host. While they run, the rolling restart restarts
every engine; afterwards the cluster must have the same cluster ID, networks and services, and the clients must have
seen no more than the stated number of failed requests. A client whose own engine is stopping loses its network
before Docker stops it: its failures during its own host's turn are counted apart. The figures are printed and written
to .cache/rolling/.
"""

import datetime
import json
import os
import re
import subprocess
import time

import pytest

INVENTORY = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
FIGURES_DIR = os.path.join(PROJECT, ".cache", "rolling")
SERVICE = "rolling-web"
CLIENT = "rolling-client"
LOG_DIR = "/var/tmp/mhnet-rolling"
INTERVAL = 0.2           # seconds between two requests of one client
MAX_REQUESTS = 2000      # per client: the loop's bound in count
MAX_SECONDS = 600        # per client: its bound in time
# Failed requests allowed across all clients, but those of a client during its own host's turn. Swarm mode: a request
# may meet a task that is stopping. Key-value mode: the engine's web container stops with it, and the other host's
# DNS still answers with its address for a moment.
MAX_FAILED_SWARM = 5
MAX_FAILED_KV = 40


def playbook(name, *args):
    """(exit code, output, seconds) of one of the collection's playbooks against the scenario's inventory."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks")
    started = time.monotonic()
    result = subprocess.run(["ansible-playbook", "-i", INVENTORY, os.path.join(PROJECT, name), *args],
                            capture_output=True, text=True, timeout=1200, check=False, env=env)
    return result.returncode, result.stdout + result.stderr, round(time.monotonic() - started, 1)


def client_script(deadline):
    return (
        "trap 'exit 0' TERM; touch {log}/requests; n=$(wc -l < {log}/requests); "
        "while [ $n -lt {count} ] && [ $(date +%s) -lt {deadline} ]; do "
        "if wget -q -T 2 -O /dev/null http://{service}; then s=ok; else s=fail; fi; "
        "echo \"$(date +%s) $s\" >> {log}/requests; n=$((n+1)); sleep {interval}; done"
    ).format(log="/log", count=MAX_REQUESTS, deadline=deadline, service=SERVICE, interval=INTERVAL)


def start_clients(engines, docker, busybox):
    deadline = int(time.time()) + MAX_SECONDS
    for name, host in engines.items():
        # One name per host: a key-value network's endpoint names are cluster-wide.
        host.run("docker rm -f %s-%s" % (CLIENT, name))
        host.check_output("rm -rf %s && mkdir -p %s" % (LOG_DIR, LOG_DIR))
        docker(host, "run", "-d", "--name", "%s-%s" % (CLIENT, name), "--network", "my-net", "--restart", "unless-stopped",
               "-v", "%s:/log" % LOG_DIR, busybox, "sh", "-c", client_script(deadline))
    time.sleep(5)  # the clients' first requests, before any restart


def stop_clients(engines):
    """[(client host, epoch second, ok|fail)] of every request the clients logged."""
    time.sleep(5)  # a few requests after the last restart
    outcomes = []
    for name, host in engines.items():
        host.run("docker rm -f %s-%s" % (CLIENT, name))
        lines = host.check_output("cat %s/requests" % LOG_DIR).splitlines()
        outcomes += [(name, int(line.split()[0]), line.split()[1]) for line in lines if len(line.split()) == 2]
    return outcomes


def task_starts(output):
    """[(task name, epoch seconds)] from the timestamps profile_tasks prints under each task, and the last one's end."""
    stamp = r"\w+ (\d+ \w+ \d{4}) +(\d\d:\d\d:\d\d) ([+-]\d{4}) \("

    def epoch(day, clock, zone):
        return datetime.datetime.strptime("%s %s %s" % (day, clock, zone), "%d %B %Y %H:%M:%S %z").timestamp()
    starts = [(name, epoch(*when)) for name, *when in re.findall(r"TASK \[([^\]]*)\][^\n]*\n" + stamp, output)]
    last = re.findall(stamp, output)
    return starts + ([("END", epoch(*last[-1]))] if last else [])


def host_turns(starts, hosts):
    """{host: (start, end)} of each turn, in order: the turn's tasks are named '...: HOST'; a turn ends where the
    next host's begins (or the run ends)."""
    named = [(index, name.rsplit(": ", 1)[-1]) for index, (name, dummy) in enumerate(starts) if name.rsplit(": ", 1)[-1] in hosts]
    turns = {}
    for position, (index, host) in enumerate(named):
        if host in turns:
            continue
        following = next((i for i, other in named[position:] if other != host), len(starts) - 1)
        turns[host] = (starts[index][1], starts[following][1])
    return turns


def measure(name, engines, outcomes, output, seconds, limit, **extra):
    os.makedirs(FIGURES_DIR, exist_ok=True)
    with open(os.path.join(FIGURES_DIR, "%s-playbook.log" % name), "w") as handle:
        handle.write(output)
    turns = host_turns(task_starts(output), set(engines))
    failures = [outcome for outcome in outcomes if outcome[2] != "ok"]
    own = [f for f in failures if f[0] in turns and turns[f[0]][0] <= f[1] <= turns[f[0]][1] + 1]
    service_failures = [f for f in failures if f not in own]
    figures = dict(extra, **{
        "playbook_seconds": seconds,
        "seconds_per_host": {host: round(end - start, 1) for host, (start, end) in turns.items()},
        "requests_sent": len(outcomes),
        "requests_failed": len(failures),
        "requests_failed_service": len(service_failures),
        "requests_failed_own_host_restarting": len(own),
        "sent_by_client": {host: sum(1 for o in outcomes if o[0] == host) for host in engines},
        "failed_by_client": {host: sum(1 for f in failures if f[0] == host) for host in engines},
        "service_failure_times": sorted(f[1] for f in service_failures),
        "max_failed_allowed": limit,
    })
    with open(os.path.join(FIGURES_DIR, "%s.json" % name), "w") as handle:
        json.dump(figures, handle, indent=2)
    return figures, service_failures


@pytest.fixture(scope="module")
def engines(lab_hosts, lab_groups):
    return {name: lab_hosts[name] for name in lab_groups["docker_hosts"]}


def swarm_state(host, docker):
    """What must survive the restart: the cluster ID, the overlay networks and the services (names with IDs)."""
    cluster_id = docker(host, "info", "--format", "{{.Swarm.Cluster.ID}}")
    networks = sorted(docker(host, "network", "ls", "--filter", "driver=overlay", "--format", "{{.ID}} {{.Name}}").splitlines())
    services = sorted(docker(host, "service", "ls", "--format", "{{.ID}} {{.Name}}").splitlines())
    return {"cluster_id": cluster_id, "networks": networks, "services": services}


def wait_for_replicas(host, docker, wanted, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replicas = docker(host, "service", "ls", "--filter", "name=" + SERVICE, "--format", "{{.Replicas}}")
        if replicas.split()[:1] == ["%d/%d" % (wanted, wanted)]:
            return
        time.sleep(2)
    raise AssertionError("%s did not reach %d running replicas: %s" % (SERVICE, wanted, replicas))


def test_swarm_a_rolling_restart_keeps_the_service_answering_and_the_swarm_whole(engines, docker, busybox, lab_vars,
                                                                                 capsys, fetch_page):
    manager = engines["mhs-demo0"]
    nginx = lab_vars["mhs-demo0"]["lab_images"]["nginx"]
    if SERVICE in docker(manager, "service", "ls", "--format", "{{.Name}}").split():
        docker(manager, "service", "rm", SERVICE)
    docker(manager, "service", "create", "--detach", "--name", SERVICE, "--replicas", "2", "--network", "my-net",
           "--endpoint-mode", "dnsrr", "--no-resolve-image", nginx)
    wait_for_replicas(manager, docker, 2)
    before = swarm_state(manager, docker)
    leader = docker(manager, "node", "ls", "--filter", "role=manager", "--format", "{{.Hostname}} {{.ManagerStatus}}")
    leader = next(row.split()[0] for row in leader.splitlines() if row.endswith(" Leader"))

    start_clients(engines, docker, busybox)
    rc, output, seconds = playbook("rolling_restart.yml")
    outcomes = stop_clients(engines)
    figures, service_failures = measure("swarm", engines, outcomes, output, seconds, MAX_FAILED_SWARM,
                                        playbook_rc=rc, leader_before=leader)
    with capsys.disabled():
        print("\nrolling restart figures (swarm mode): %s" % json.dumps(figures, sort_keys=True))

    assert rc == 0, output[-5000:]
    assert sorted(figures["seconds_per_host"]) == sorted(engines), output[-3000:]
    # Managers only here: the leader last.
    assert list(figures["seconds_per_host"])[-1] == leader, (leader, figures["seconds_per_host"])
    wait_for_replicas(manager, docker, 2)
    assert swarm_state(manager, docker) == before
    nodes = [row.split() for row in docker(manager, "node", "ls", "--format",
                                           "{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}").splitlines()]
    assert sorted(node[0] for node in nodes) == sorted(engines)
    assert all(node[1:3] == ["Ready", "Active"] and node[3] in ("Leader", "Reachable") for node in nodes), nodes
    assert len(outcomes) >= 100, "the clients sent too few requests to measure anything: %d" % len(outcomes)
    assert len(service_failures) <= MAX_FAILED_SWARM, figures
    # The tutorial's standalone containers came back too: web on the first engine answers the probe on the last.
    web_state = docker(engines["mhs-demo0"], "inspect", "--format", "{{json .State}}", "web")
    assert json.loads(web_state)["Running"] is True, (web_state, output[-3000:])
    assert "Welcome to nginx!" in fetch_page(engines["mhs-demo2"])
    assert "Welcome to nginx!" in fetch_page(engines["mhs-demo2"], "mhnet_app")
    docker(manager, "service", "rm", SERVICE)


@pytest.fixture(scope="module")
def kv_cluster(lab_hosts, lab_groups, lab_vars, tmp_path_factory):
    """The key-value cluster on the kv_* hosts, built by site.yml: (engines, extra-vars arguments)."""
    images = [dict(image, groups=[{"docker_hosts": "kv_hosts", "keystore": "kv_keystore"}.get(group, group)
                                  for group in image.get("groups", [])])
              for image in next(iter(lab_vars.values()))["images_list"]]
    extra = tmp_path_factory.mktemp("kv") / "kv.json"
    extra.write_text(json.dumps({"mhnet_cluster_mode": "kv", "mhnet_docker_group": "kv_hosts",
                                 "mhnet_keystore_group": "kv_keystore", "images_list": images}))
    rc, output, dummy = playbook("site.yml", "-e", "@%s" % extra)
    assert rc == 0, output[-5000:]
    return {name: lab_hosts[name] for name in lab_groups["kv_hosts"]}, ["-e", "@%s" % extra]


def test_kv_a_rolling_restart_keeps_the_replicas_answering_and_the_network(kv_cluster, docker, busybox, lab_vars,
                                                                           capsys):
    engines, extra = kv_cluster
    nginx = next(iter(lab_vars.values()))["lab_images"]["nginx"]
    for index, host in enumerate(engines.values()):
        host.run("docker rm -f %s-%d" % (SERVICE, index))
        docker(host, "run", "-d", "--name", "%s-%d" % (SERVICE, index), "--network", "my-net", "--network-alias", SERVICE,
               "--restart", "unless-stopped", nginx)
    networks = {name: docker(host, "network", "inspect", "--format", "{{.Id}}", "my-net") for name, host in engines.items()}
    assert len(set(networks.values())) == 1, networks

    start_clients(engines, docker, busybox)
    rc, output, seconds = playbook("rolling_restart.yml", *extra)
    outcomes = stop_clients(engines)
    figures, service_failures = measure("kv", engines, outcomes, output, seconds, MAX_FAILED_KV, playbook_rc=rc)
    with capsys.disabled():
        print("\nrolling restart figures (key-value mode): %s" % json.dumps(figures, sort_keys=True))

    assert rc == 0, output[-5000:]
    assert list(figures["seconds_per_host"]) == sorted(engines), output[-3000:]
    assert {name: docker(host, "network", "inspect", "--format", "{{.Id}}", "my-net") for name, host in engines.items()} == networks
    for index, host in enumerate(engines.values()):
        assert docker(host, "inspect", "--format", "{{.State.Running}}", "%s-%d" % (SERVICE, index)) == "true"
        host.run("docker rm -f %s-%d" % (SERVICE, index))
    assert len(outcomes) >= 100, "the clients sent too few requests to measure anything: %d" % len(outcomes)
    assert len(service_failures) <= MAX_FAILED_KV, figures
