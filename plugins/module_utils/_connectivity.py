# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The connectivity check of one host: short-lived listeners for what its peers must reach, probes for what it must
reach on them, all within one deadline.

Every host of the play runs this at once (one task), so a host's probes may start before a peer's listeners: probes
retry until the deadline, and listeners stay up until every expected peer was heard (or the deadline passed).
"""

from __future__ import annotations

import os
import socket
import threading
import time

# A probe's datagram; the listener sends it back.
PROBE_PREFIX = b"mhnet-connectivity "
# After the last expected peer was heard, listeners stay up this long more: a UDP echo may need a second try.
LISTEN_GRACE = 0.5
RETRY_PAUSE = 0.2


def port_name(connection):
    return "%s/%d" % (connection["protocol"], connection["port"])


class Listener:
    """One TCP or UDP socket on address:port that records the addresses it hears from (and echoes UDP datagrams)."""

    def __init__(self, protocol, address, port):
        self.protocol, self.heard, self.error = protocol, set(), ""
        kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.settimeout(0.1)
        self.stopping = threading.Event()
        try:
            self.sock.bind((address, port))
            if protocol == "tcp":
                self.sock.listen(64)
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            self.sock.close()
            return
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                if self.protocol == "tcp":
                    peer, (source, dummy) = self.sock.accept()
                    peer.close()
                else:
                    data, (source, source_port) = self.sock.recvfrom(512)
                    if data.startswith(PROBE_PREFIX):
                        self.sock.sendto(data, (source, source_port))
            except socket.timeout:
                continue
            except OSError:
                if self.stopping.is_set():
                    return
                time.sleep(RETRY_PAUSE)  # an ICMP error of an earlier echo; keep serving
                continue
            self.heard.add(source)

    def stop(self):
        if not self.error:
            self.stopping.set()
            self.thread.join()
            self.sock.close()


def probe(connection, source_address, deadline):
    """(state, error): 'open', or 'blocked' with the last error, trying until the deadline; 'untested' for a UDP port a
    service already holds on the target (it would not answer the probe)."""
    if connection["in_use"] and connection["protocol"] == "udp":
        return "untested", "a service on %s already holds it" % connection["target"]
    target = (connection["address"], connection["port"])
    error = "no answer"
    while time.monotonic() < deadline:
        kind = socket.SOCK_STREAM if connection["protocol"] == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind)
        try:
            sock.bind((source_address, 0))
            sock.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
            sock.connect(target)
            if connection["protocol"] == "tcp":
                return "open", ""
            nonce = PROBE_PREFIX + os.urandom(8).hex().encode()
            sock.settimeout(max(0.05, min(0.3, deadline - time.monotonic())))
            sock.send(nonce)
            if sock.recv(512) == nonce:
                return "open", ""
        except socket.timeout:
            error = "no answer"
            continue
        except OSError as exc:
            error = exc.strerror or str(exc)
        finally:
            sock.close()
        time.sleep(RETRY_PAUSE)
    return "blocked", error


def host_connections(me, connectivity, addresses):
    """The connections of or to host `me`, from the plan's connectivity groups (module_utils/_plan.cluster_connectivity):
    as many as its peers, never the cluster's square. Each: source, source_address, target, address (the target's),
    protocol, port, purpose, in_use."""
    in_use = connectivity.get("in_use") or {}
    connections = []
    for rule in connectivity["rules"]:
        pairs = [(me, target) for target in rule["targets"] if target != me] if me in rule["sources"] else []
        pairs += [(source, me) for source in rule["sources"] if source != me] if me in rule["targets"] else []
        for source, target in pairs:
            connections.extend(dict(source=source, source_address=addresses[source], target=target,
                                    address=addresses[target], protocol=protocol, port=port, purpose=purpose,
                                    in_use="%s/%d" % (protocol, port) in in_use.get(target, ()))
                               for protocol, port, purpose in rule["ports"])
    return connections


def check_connections(me, address, connections, timeout):
    """Listen for this host's expected peers and probe what it must reach; every connection of or to it with 'state'
    and 'error', and the ports it could not listen on ({port: error})."""
    deadline = time.monotonic() + timeout
    incoming = [entry for entry in connections if entry["target"] == me and not entry["in_use"]]
    outgoing = [entry for entry in connections if entry["source"] == me]
    expected = {}
    for entry in incoming:
        expected.setdefault((entry["protocol"], entry["port"]), set()).add(entry["source_address"])
    listeners = dict((key, Listener(key[0], address, key[1])) for key in sorted(expected))
    results = [None] * len(outgoing)

    def run(index):
        results[index] = probe(outgoing[index], address, deadline)

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(len(outgoing))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    waiting = dict((key, listener) for key, listener in listeners.items() if not listener.error)
    while time.monotonic() < deadline and any(not expected[key] <= listener.heard for key, listener in waiting.items()):
        time.sleep(0.05)
    time.sleep(min(LISTEN_GRACE, max(0.0, deadline - time.monotonic())))
    for listener in listeners.values():
        listener.stop()
    checked = [dict(entry, state=state, error=error) for entry, (state, error) in zip(outgoing, results)]
    listen_errors = dict(("%s/%d" % key, listener.error) for key, listener in listeners.items() if listener.error)
    return checked, listen_errors


def blocked_message(me, checked, listen_errors, timeout):
    """What the failure says: each blocked port with its pair of hosts, and the ports this host could not listen on."""
    lines = ["%s cannot reach %s (%s) on %s (%s): %s within %gs" % (
        me, entry["target"], entry["address"], port_name(entry), entry["purpose"], entry["error"], timeout)
        for entry in checked if entry["state"] == "blocked"]
    lines += ["%s could not listen on %s (%s), so its peers' probes of that port fail: free the port or stop what holds it"
              % (me, port, error) for port, error in sorted(listen_errors.items())]
    return ("connectivity check found %d problem(s), before any change:\n- %s\nOpen these ports between the cluster's "
            "hosts (host firewalls, security groups, network ACLs), then run again." % (len(lines), "\n- ".join(lines)))
