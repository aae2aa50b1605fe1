"""The connectivity check with real sockets on loopback addresses (127.0.0.2 and 127.0.0.3 stand for two hosts)."""

import socket
import threading
import time

from ansible_collections.mhnet.cluster.plugins.module_utils._connectivity import blocked_message, check_connections

A, B = "127.0.0.2", "127.0.0.3"


def free_port(kind):
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def both_ways(protocol, port, in_use=False):
    return [dict(source=source, source_address=source_address, target=target, address=address, protocol=protocol,
                 port=port, purpose="test", in_use=in_use)
            for source, source_address, target, address in (("a", A, "b", B), ("b", B, "a", A))]


def run_on_both(connections, timeout):
    """check_connections on 'a' and 'b' at once, as one task on two hosts; {host: (checked, listen_errors, seconds)}."""
    results = {}

    def run(name, address):
        started = time.monotonic()
        checked, errors = check_connections(name, address, connections, timeout)
        results[name] = (checked, errors, time.monotonic() - started)

    threads = [threading.Thread(target=run, args=args) for args in (("a", A), ("b", B))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_open_tcp_and_udp_ports_are_found_open_both_ways_well_before_the_timeout():
    connections = both_ways("tcp", free_port(socket.SOCK_STREAM)) + both_ways("udp", free_port(socket.SOCK_DGRAM))
    results = run_on_both(connections, timeout=10)
    for name in ("a", "b"):
        checked, errors, seconds = results[name]
        assert errors == {}
        assert sorted((entry["target"], entry["protocol"], entry["state"]) for entry in checked) == [
            ("b" if name == "a" else "a", "tcp", "open"), ("b" if name == "a" else "a", "udp", "open")]
        assert seconds < 5


def test_a_port_nobody_listens_on_is_blocked_and_named_with_both_hosts():
    port = free_port(socket.SOCK_DGRAM)
    connections = both_ways("udp", port)[:1]  # a probes b, and b does not run the check (its listener never opens)
    checked, errors = check_connections("a", A, connections, timeout=1)
    assert [entry["state"] for entry in checked] == ["blocked"]
    message = blocked_message("a", checked, errors, 1)
    assert "a cannot reach b (%s) on udp/%d (test)" % (B, port) in message
    assert "Open these ports between the cluster's hosts" in message


def test_a_tcp_port_a_service_holds_is_tried_against_it_and_a_udp_one_is_untested():
    with socket.socket() as service:
        service.bind((B, 0))
        service.listen(4)
        tcp_port = service.getsockname()[1]
        connections = both_ways("tcp", tcp_port, in_use=True)[:1] + both_ways("udp", 4789, in_use=True)[:1]
        checked, errors = check_connections("a", A, connections, timeout=2)
    assert [(entry["protocol"], entry["state"]) for entry in checked] == [("tcp", "open"), ("udp", "untested")]
    assert errors == {}


def test_a_port_this_host_cannot_listen_on_is_reported():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind((B, 0))
        port = holder.getsockname()[1]
        connections = both_ways("udp", port)[:1]  # a probes b; b cannot listen: the port is taken
        checked, errors = check_connections("b", B, connections, timeout=0.5)
    assert checked == [] and list(errors) == ["udp/%d" % port]
    assert "b could not listen on udp/%d" % port in blocked_message("b", checked, errors, 0.5)
