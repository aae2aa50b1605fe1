"""P4: TCP between containers on two hosts over my-net, against the same two hosts over the cluster network.

Runs on a cluster the collection has just converged (my-net exists with the MTU the collection set). The server
runs on the first engine, the client on the last; both sides use the benchmark's iperf3 image (Debian's iperf3),
in my-net for the overlay and in the host's network namespace for the underlay. Each iperf3 run is bounded
(-t seconds, and a timeout on the command).

The DF check: a ping with the don't-fragment bit and a payload of MTU-28 bytes (a full-size packet) must cross
the overlay, MTU-27 must not, and neither host's IP stack may fragment or reassemble on the way (the counters of
/proc/net/snmp on both lab hosts, where the VXLAN packets are sent and received, do not move). It is made at the
containers' MTU (eth0 of a container on my-net). The MTU set on my-net, the containers' and the underlay's are
reported: Docker's overlay driver reads the option as the underlay's MTU and gives containers 50 bytes less (seen
with Docker 26.1.5: option 1450, eth0 1400), so the containers should have the underlay's MTU less 50 (mtu_full).
"""

from __future__ import annotations

import json

from hosts import BenchError, dexec

SERVER = "bench-iperf3"
UNDERLAY_PORT = 5202


def _iperf_client(host, image, network, target, seconds, port=5201):
    done = dexec(host, "docker run --rm --network %s %s iperf3 -J -c %s -p %d -t %d"
                 % (network, image, target, port, seconds), timeout=seconds + 60)
    report = json.loads(done.stdout.decode())
    if report.get("error"):
        raise BenchError("%s: iperf3 to %s: %s" % (host.name, target, report["error"]))
    end = report["end"]
    return {
        "bits_per_second": end["sum_received"]["bits_per_second"],
        "retransmits": end.get("sum_sent", {}).get("retransmits"),
    }


def _snmp_ip(host):
    """The Ip counters of /proc/net/snmp in the lab host's network namespace."""
    lines = [line.split() for line in dexec(host, "cat /proc/net/snmp").stdout.decode().splitlines() if line.startswith("Ip:")]
    return dict(zip(lines[0][1:], (int(value) for value in lines[1][1:])))


def _ping(host, image, target, payload):
    done = dexec(host, "docker run --rm --network my-net %s ping -M do -c 1 -W 2 -s %d %s"
                 % (image, payload, target), timeout=60, check=False)
    return done.returncode == 0, (done.stdout + done.stderr).decode("utf-8", "replace").strip().splitlines()[-2:]


def _df_check(client_host, server_host, image, mtu):
    """DF pings of MTU-28 (must cross, with no fragmentation on either host) and MTU-27 (must be refused)."""
    before = {host.name: _snmp_ip(host) for host in (server_host, client_host)}
    full_ok, full_output = _ping(client_host, image, SERVER, mtu - 28)
    after = {host.name: _snmp_ip(host) for host in (server_host, client_host)}
    over_ok, over_output = _ping(client_host, image, SERVER, mtu - 27)
    fragments = {
        name: {key: after[name][key] - before[name][key] for key in ("FragCreates", "FragOKs", "ReasmReqds")}
        for name in after
    }
    unfragmented = all(value == 0 for counters in fragments.values() for value in counters.values())
    return {
        "mtu": mtu,
        "full_size_crosses": full_ok,
        "full_size_unfragmented": full_ok and unfragmented,
        "one_byte_more_refused": not over_ok,
        "ok": full_ok and unfragmented and not over_ok,
        "fragment_counters": fragments,
        "ping_output": {"mtu-28": full_output, "mtu-27": over_output},
    }


def measure(server_host, client_host, image, seconds=5):
    """One P4 round: overlay and underlay throughput, the MTUs, and the DF check."""
    option = dexec(server_host, "docker network inspect my-net --format "
                   "'{{index .Options \"com.docker.network.driver.mtu\"}}'").stdout.decode().strip()
    underlay_mtu = int(dexec(server_host, "cat /sys/class/net/$(ip -o -4 addr show | awk -v a=%s "
                             "'{split($4, p, \"/\"); if (p[1] == a) print $2}')/mtu" % server_host.address).stdout)
    dexec(server_host, "docker rm -f %s %s-host >/dev/null 2>&1; "
          "docker run -d --name %s --network my-net %s iperf3 -s >/dev/null && "
          "docker run -d --name %s-host --network host %s iperf3 -s -B %s -p %d >/dev/null"
          % (SERVER, SERVER, SERVER, image, SERVER, image, server_host.address, UNDERLAY_PORT))
    try:
        # Both servers listen before a client starts.
        dexec(server_host, "timeout 20 sh -c 'until docker exec %s ss -Hltn sport = :5201 | grep -q . && "
              "ss -Hltn sport = :%d | grep -q .; do sleep 0.1; done'" % (SERVER, UNDERLAY_PORT), timeout=30)
        container_mtu = int(dexec(server_host, "docker exec %s cat /sys/class/net/eth0/mtu" % SERVER).stdout)
        overlay = _iperf_client(client_host, image, "my-net", SERVER, seconds)
        underlay = _iperf_client(client_host, image, "host", server_host.address, seconds, UNDERLAY_PORT)
        set_mtu = int(option) if option.isdigit() else None
        # A full-size packet is one of the containers' MTU: it must cross unfragmented.
        checks = [_df_check(client_host, server_host, image, container_mtu)]
    finally:
        dexec(server_host, "docker rm -f %s %s-host >/dev/null" % (SERVER, SERVER), check=False)
    return {
        "mtu_set": set_mtu,  # my-net's com.docker.network.driver.mtu (None: not set)
        "mtu_container": container_mtu,  # eth0 of a container on my-net
        "mtu_underlay": underlay_mtu,  # the cluster interface of the host
        "overlay_bits_per_second": overlay["bits_per_second"],
        "underlay_bits_per_second": underlay["bits_per_second"],
        "overlay_retransmits": overlay["retransmits"],
        "underlay_retransmits": underlay["retransmits"],
        "ratio": overlay["bits_per_second"] / underlay["bits_per_second"],
        # The DF check at the containers' MTU; and whether the containers get all the underlay allows (its MTU
        # less VXLAN's 50 bytes).
        "df_checks": checks,
        "df_ok": checks[0]["ok"],
        "mtu_full": container_mtu == underlay_mtu - 50,
    }
