"""The benchmark's lab hosts: the lab inventory, `docker exec` into the host containers, blank-host resets.

The hosts are the project's lab hosts (containers booting systemd and their own Docker engine). Everything here
talks to them with the outer `docker` command line, the way a person at the machine would.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import shlex
import subprocess
import time

import yaml


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class Host:
    name: str  # inventory name and hostname
    container: str  # the lab host's container on this machine
    address: str  # cluster address (mhnet_cluster_address)
    generation: str
    groups: tuple


class Lab:
    """The hosts of a lab inventory written by the lab role (lab/roles/lab/templates/inventory.yml.j2)."""

    def __init__(self, inventory_path, lab_name):
        with open(inventory_path, encoding="utf-8") as handle:
            inventory = yaml.safe_load(handle)
        children = inventory["all"]["children"]
        lab_group = children[lab_name.replace("-", "_")]
        group_of = {}
        for group, data in children.items():
            for name in (data or {}).get("hosts") or {}:
                group_of.setdefault(name, []).append(group)
        self.hosts = [
            Host(
                name=name,
                container=values["ansible_host"],
                address=values["mhnet_cluster_address"],
                generation=values["lab_generation"],
                groups=tuple(group_of.get(name, ())),
            )
            for name, values in lab_group["hosts"].items()
        ]
        self.images = dict(lab_group["vars"]["lab_images"])
        self.images_list = list(lab_group["vars"].get("images_list") or [])

    def group(self, name):
        return [host for host in self.hosts if name in host.groups]

    @property
    def engines(self):
        return self.group("docker_hosts")

    @property
    def keystores(self):
        return self.group("keystore")


def dexec(host, script, *args, stdin=None, timeout=120, check=True):
    """Run `sh -c SCRIPT ARGS...` on a lab host (docker exec); returns the CompletedProcess.

    stdin: bytes, or an open file, fed to the command.
    """
    argv = ["docker", "exec"] + (["-i"] if stdin is not None else []) + [host.container, "sh", "-c", script, "sh"]
    argv += [str(arg) for arg in args]
    try:
        if hasattr(stdin, "read"):
            done = subprocess.run(argv, stdin=stdin, capture_output=True, timeout=timeout, check=False)
        else:
            done = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchError("%s: `%s` did not finish within %d s" % (host.name, _short(script), timeout)) from exc
    if check and done.returncode != 0:
        raise BenchError(
            "%s: `%s` failed (exit %d): %s"
            % (host.name, _short(script), done.returncode, _tail(done.stderr or done.stdout))
        )
    return done


def parallel(function, items):
    """function(item) for every item at once, in threads; returns the results in order; raises the first error."""
    items = list(items)
    if len(items) == 1:
        return [function(items[0])]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(len(items), 1)) as pool:
        futures = [pool.submit(function, item) for item in items]
        concurrent.futures.wait(futures)
        return [future.result() for future in futures]


def _short(script):
    text = " ".join(script.split())
    return text if len(text) <= 100 else text[:97] + "..."


def _tail(data, limit=600):
    text = data.decode("utf-8", "replace").strip() if isinstance(data, bytes) else (data or "").strip()
    return text if len(text) <= limit else "..." + text[-limit:]


# Kept once per host, right after the lab brings it up: /etc/docker as the lab made it.
SNAPSHOT = "/root/.mhnet-bench"

SNAPSHOT_SCRIPT = r"""
set -e
[ -e %(snap)s/taken ] && exit 0
mkdir -p %(snap)s
if [ -d /etc/docker ]; then cp -a /etc/docker %(snap)s/etc-docker; fi
touch %(snap)s/taken
""" % {"snap": SNAPSHOT}

# Back to a blank host with its images: the engine's containers, networks, volumes and swarm state go, and
# /etc/docker is restored to what the lab made. Images (and the archives the images role copied to
# /var/cache/mhnet/images) stay: the timed runs start from "blank hosts with the images loaded".
RESET_SCRIPT = r"""
set -u
timeout 60 sh -c '
  docker swarm leave --force >/dev/null 2>&1
  ids=$(docker ps -aq)
  [ -z "$ids" ] || docker rm -f $ids >/dev/null
' || echo "reset: removing containers did not finish (the engine state is wiped anyway)" >&2
systemctl stop docker.socket docker.service 2>/dev/null || systemctl stop docker.service
for ns in /run/docker/netns/*; do
  [ -e "$ns" ] || continue
  umount "$ns" 2>/dev/null; rm -f "$ns"
done
rm -rf /var/lib/docker/containers /var/lib/docker/network /var/lib/docker/swarm /var/lib/docker/volumes
for link in $(ip -o link show | sed -n 's/^[0-9]*: \([^:@]*\).*/\1/p' | grep -E '^(docker_gwbridge|br-|vx-|veth|ov-)'); do
  ip link del "$link" 2>/dev/null
done
rm -rf /etc/docker
if [ -d %(snap)s/etc-docker ]; then cp -a %(snap)s/etc-docker /etc/docker; fi
systemctl reset-failed docker.service docker.socket 2>/dev/null
systemctl start docker.service
timeout 60 sh -c 'until docker info >/dev/null 2>&1; do sleep 0.2; done' || { echo "reset: the engine did not come back" >&2; exit 1; }
state=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Containers}}')
networks=$(docker network ls -q | wc -l)
volumes=$(docker volume ls -q | wc -l)
if [ "$state" != "inactive 0" ] || [ "$networks" != 3 ] || [ "$volumes" != 0 ]; then
  echo "reset: not blank: swarm/containers '$state', $networks networks, $volumes volumes" >&2
  exit 1
fi
""" % {"snap": SNAPSHOT}


def snapshot(lab):
    """Record each host's /etc/docker as the lab made it (once), for resets."""
    parallel(lambda host: dexec(host, SNAPSHOT_SCRIPT, timeout=60), lab.hosts)


def reset(lab):
    """Every host back to blank (images kept); engines first, then keystore hosts (the store outlives the
    engines' container removal). Returns the seconds it took."""
    started = time.monotonic()
    keystores = [host for host in lab.hosts if "keystore" in host.groups]
    others = [host for host in lab.hosts if host not in keystores]
    for wave in (others, keystores):
        if wave:
            parallel(lambda host: dexec(host, RESET_SCRIPT, timeout=180), wave)
    return time.monotonic() - started


def load_archive(hosts, archive):
    """`docker load` an image archive (a file on this machine) into each host's engine, in parallel."""
    def load(host):
        with open(archive, "rb") as handle:
            dexec(host, "docker load -q", stdin=handle, timeout=600)
    parallel(load, hosts)


def quote(argv):
    return " ".join(shlex.quote(str(arg)) for arg in argv)
