"""The floor: the collection's steps done by hand with `docker exec` into the lab hosts, as fast as honest.

Each function starts from blank hosts with the images loaded, does what site.yml does in that mode, in parallel
wherever the steps allow, and ends with the page fetched across hosts (checked). It returns the elapsed seconds
and the time of each step. Placement is the collection's: the keystore host runs the store, the first engine is
the control (and web) host, the last engine is the probe host.

Run alone against an inventory the benchmark wrote:  python bench/floor.py kv|swarm INVENTORY LAB_NAME
"""

from __future__ import annotations

import json
import sys
import time

from hosts import BenchError, Lab, dexec, parallel

EXPECT = "Welcome to nginx!"
SUBNET = "10.0.9.0/24"
ADVERTISE_PORT = 2376  # engine's cluster-advertise port (the collection's engine_advertise_port)
CONSUL_PORT = 8500
SWARM_PORT = 2377
STACK_NAME = "mhnet"  # the collection's stack_name
KEEP_ALIVE = "trap 'exit 0' TERM; while :; do sleep 3600 & wait; done"

# Fetch a URL from inside a container, retrying briefly (for at most 40 s) while names and peers spread.
FETCH = ('end=$(($(date +%s) + 40)); while [ "$(date +%s)" -lt "$end" ]; do '
         'wget -q -T 2 -O- "$1" && exit 0; sleep 0.2; done; exit 1')

# Restart the engine and wait until it answers.
RESTART = "systemctl restart docker.service && timeout 90 sh -c 'until docker info >/dev/null 2>&1; do sleep 0.1; done'"

# Merge cluster-store settings into daemon.json (other keys kept), advertising the interface that holds the
# cluster address; wait until the store has a leader (an engine that finds no store retries only 20 s later);
# restart. $1 store URL, $2 cluster address, $3 advertise port, $4 the store's leader URL.
ENGINE_KV = r"""
set -e
iface=$(ip -o -4 addr show | awk -v a="$2" '{split($4, p, "/"); if (p[1] == a) print $2}')
[ -n "$iface" ] || { echo "no interface holds $2" >&2; exit 1; }
python3 - "$1" "$iface:$3" "$4" <<'EOF'
import json, os, sys, time, urllib.request
path = "/etc/docker/daemon.json"
config = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
config.update({"cluster-store": sys.argv[1], "cluster-advertise": sys.argv[2]})
os.makedirs("/etc/docker", exist_ok=True)
with open(path, "w") as handle:
    json.dump(config, handle, indent=2)
deadline = time.time() + 60
while True:
    try:
        if json.load(urllib.request.urlopen(sys.argv[3], timeout=2)):
            break
    except Exception:
        pass
    if time.time() > deadline:
        sys.exit("the store at %s has no leader after 60 s" % sys.argv[3])
    time.sleep(0.1)
EOF
""" + RESTART

# Poll the store until every engine is registered under docker/nodes/. $1 URL, $2 expected keys, $3 timeout.
WAIT_REGISTERED = r"""
python3 - "$@" <<'EOF'
import json, sys, time, urllib.request
url, want, deadline = sys.argv[1], set(sys.argv[2].split(",")), time.time() + float(sys.argv[3])
while True:
    try:
        keys = json.load(urllib.request.urlopen(url, timeout=2))
        if want <= {key.rsplit("/", 1)[-1] for key in keys}:
            sys.exit(0)
    except Exception:
        pass
    if time.time() > deadline:
        sys.exit("engines not all registered: want %s" % sorted(want))
    time.sleep(0.1)
EOF
"""

# Start a container on an overlay network, trying again (at most 3 times) when the engine could not attach it
# (a swarm worker can time out asking the managers). $1 name, then `docker run` args.
RUN = r"""
name=$1
for attempt in 1 2 3; do
  docker run -d --name "$@" >/dev/null && exit 0
  docker rm -f "$name" >/dev/null 2>&1
  sleep 0.5
done
exit 1
"""

# Poll the manager until $1 nodes are Ready (at most 60 s).
NODES_READY = r"""
end=$(($(date +%s) + 60))
while [ "$(date +%s)" -lt "$end" ]; do
  [ "$(docker node ls --format '{{.Status}}' | grep -c '^Ready$')" -ge "$1" ] && exit 0
  sleep 0.1
done
echo "not every node is Ready after 60 s" >&2
exit 1
"""

# Create a network, retrying briefly (an engine just restarted may still be connecting to its store).
NETWORK_CREATE = 'for i in $(seq 50); do docker network create "$@" >/dev/null && exit 0; sleep 0.2; done; exit 1'


class Steps:
    """Elapsed time of named steps since a common start."""

    def __init__(self):
        self.started = time.monotonic()
        self.marks = {}

    def mark(self, name):
        self.marks[name] = round(time.monotonic() - self.started, 3)

    def result(self):
        return {"seconds": round(time.monotonic() - self.started, 3), "steps": self.marks}


def _run(host, name, network, image, *command):
    """A long-lived container (restart always) on an overlay network."""
    dexec(host, RUN, name, "--network", network, "--restart", "always", image, *command, timeout=180)


def _probe(host, lab, name, network):
    _run(host, name, network, lab.images["busybox"], "sh", "-c", KEEP_ALIVE)


def _fetch(host, container, url="http://web"):
    page = dexec(host, "docker exec %s sh -c '%s' fetch %s" % (container, FETCH, url), timeout=90).stdout.decode()
    if EXPECT not in page:
        raise BenchError("%s: %s fetched %s but the page lacks %r" % (host.name, container, url, EXPECT))


def kv(lab):
    """Key-value mode (the tutorial): Consul, engines pointed at it, my-net, web, the page fetched across hosts."""
    store = lab.keystores[0]
    engines = lab.engines
    web_host, probe_host = engines[0], engines[-1]
    url = "consul://%s:%d" % (store.address, CONSUL_PORT)
    steps = Steps()

    def start_store(host):
        # Consul's production Raft timing (performance.raft_multiplier 1), as its vendor recommends.
        dexec(host, "docker run -d --name consul --hostname consul --network host --restart always "
              "-v consul-data:/consul/data %s agent -server -bootstrap-expect=1 -data-dir=/consul/data "
              "-node=%s -bind=%s -advertise=%s -client=%s -http-port=%d "
              "-hcl 'performance { raft_multiplier = 1 }' >/dev/null"
              % (lab.images["consul"], host.name, host.address, host.address, host.address, CONSUL_PORT))
        steps.mark("store started")

    def point_engine(host):
        dexec(host, ENGINE_KV, url, host.address, ADVERTISE_PORT,
              "http://%s:%d/v1/status/leader" % (store.address, CONSUL_PORT), timeout=180)
        steps.mark("engine %s restarted" % host.name)

    # The store starts while the engines write daemon.json; they restart once it has a leader.
    parallel(lambda job: job[0](job[1]), [(start_store, store)] + [(point_engine, host) for host in engines])
    steps.mark("engines restarted")
    expect = ",".join("%s:%d" % (host.address, ADVERTISE_PORT) for host in engines)
    dexec(store, WAIT_REGISTERED, "http://%s:%d/v1/kv/docker/nodes/?keys" % (store.address, CONSUL_PORT),
          expect, 60, timeout=90)
    steps.mark("engines registered")
    dexec(web_host, NETWORK_CREATE, "-d", "overlay", "--subnet", SUBNET, "my-net", timeout=60)
    steps.mark("my-net created")
    parallel(lambda job: job(), [
        lambda: _run(web_host, "web", "my-net", lab.images["nginx"]),
        lambda: _probe(probe_host, lab, "probe", "my-net"),
    ])
    steps.mark("web and probe running")
    _fetch(probe_host, "probe")
    steps.mark("page fetched")
    return steps.result()


def stack_compose(web_hostname, image):
    """The Compose file of roles/stack/tasks/main.yml (as JSON, which is YAML)."""
    return json.dumps({
        "version": "3.8",
        "services": {"web": {
            "image": image,
            "networks": ["app"],
            "deploy": {
                "replicas": 1,
                "endpoint_mode": "dnsrr",
                "placement": {"constraints": ["node.hostname == %s" % web_hostname]},
            },
        }},
        "networks": {"app": {"driver": "overlay", "attachable": True}},
    })


def swarm(lab, mtu=1500):
    """Swarm mode: init, joins, attachable my-net (the MTU the collection sets), web, the stack, the fetches."""
    engines = lab.engines
    control, web_host, probe_host = engines[0], engines[0], engines[-1]
    others = engines[1:]
    steps = Steps()

    token = dexec(control, "docker swarm init --advertise-addr %s --listen-addr 0.0.0.0:%d >/dev/null && "
                  "docker swarm join-token -q worker" % (control.address, SWARM_PORT)).stdout.decode().strip()
    steps.mark("swarm initialised")

    def join(host):
        dexec(host, "docker swarm join --token %s --advertise-addr %s %s:%d >/dev/null"
              % (token, host.address, control.address, SWARM_PORT))

    def network(host):
        dexec(host, NETWORK_CREATE, "-d", "overlay", "--attachable", "--subnet", SUBNET,
              "--opt", "com.docker.network.driver.mtu=%d" % mtu, "my-net")

    def stack(host):
        dexec(host, "docker stack deploy --resolve-image never -c - %s >/dev/null" % STACK_NAME,
              stdin=stack_compose(web_host.name, lab.images["nginx"]).encode())

    # Joins, the network and the stack all go to the manager at once.
    parallel(lambda job: job[0](job[1]), [(join, host) for host in others] + [(network, control), (stack, control)])
    steps.mark("joined, my-net and stack created")
    # A node that has just joined attaches containers to overlay networks once the managers see it Ready (before
    # that its attachment requests can time out after 20 s).
    dexec(control, NODES_READY, len(engines), timeout=90)
    steps.mark("nodes ready")

    def app_probe():
        # The stack's probe: a long-lived busybox on the stack's network, on the probe host (as the probe role).
        _probe(probe_host, lab, "%s-probe" % STACK_NAME, "%s_app" % STACK_NAME)
        _fetch(probe_host, "%s-probe" % STACK_NAME)

    parallel(lambda job: job(), [
        lambda: _run(web_host, "web", "my-net", lab.images["nginx"]),
        lambda: _probe(probe_host, lab, "probe", "my-net"),
        app_probe,
    ])
    steps.mark("web running, stack page fetched")
    _fetch(probe_host, "probe")
    steps.mark("page fetched")
    return steps.result()


def main(argv):
    if len(argv) != 4 or argv[1] not in ("kv", "swarm"):
        sys.exit(__doc__)
    lab = Lab(argv[2], argv[3])
    print(json.dumps((kv if argv[1] == "kv" else swarm)(lab), indent=2))


if __name__ == "__main__":
    main(sys.argv)
