"""On blank hosts: a port the cluster needs, blocked between two hosts, stops the run in preflight, naming the pair
and the port, before any host changes."""

import pytest

# The fixture: every host's state before and after.
from test_refusals import unchanged  # noqa: F401  # pylint: disable=unused-import


@pytest.fixture()
def firewalled(lab_hosts):
    """mhs-demo1 drops VXLAN (4789/udp) and rejects gossip (7946/tcp) from everyone, as a host firewall would."""
    demo1 = lab_hosts["mhs-demo1"]
    rules = [["INPUT", "-p", "udp", "--dport", "4789", "-j", "DROP"],
             ["INPUT", "-p", "tcp", "--dport", "7946", "-j", "REJECT", "--reject-with", "tcp-reset"]]
    for rule in rules:
        demo1.check_output("iptables -I " + " ".join(rule))
    yield
    for rule in rules:
        demo1.check_output("iptables -D " + " ".join(rule))


@pytest.mark.reliability("udp/4789 dropped and tcp/7946 rejected on mhs-demo1: refused in preflight naming the pair and "
                         "port; nothing changed")
def test_ports_blocked_between_two_hosts_are_named_with_the_pair_before_any_change(run_site, firewalled, unchanged, lab_vars):
    rc, output = run_site("-e", "mhnet_connectivity_timeout=4")
    assert rc != 0
    demo1 = lab_vars["mhs-demo1"]["mhnet_cluster_address"]
    assert "mhs-demo0 cannot reach mhs-demo1 (%s) on udp/4789 (VXLAN data): no answer within 4s" % demo1 in output, output[-3000:]
    assert "mhs-demo0 cannot reach mhs-demo1 (%s) on tcp/7946 (engine gossip): Connection refused within 4s" % demo1 in output
    # What mhs-demo1 blocks is all that is reported: it reaches mhs-demo0, and both reach the keystore.
    assert "cannot reach mhs-demo0" not in output and "cannot reach mh-keystore" not in output
    assert "mhs-demo0 cannot reach mhs-demo1 (%s) on udp/7946" % demo1 not in output


@pytest.mark.reliability("the connectivity check passes (check mode, preflight tag); nothing changed")
def test_with_the_firewall_gone_the_same_check_passes(run_site, unchanged):
    rc, output = run_site("--check", "--tags", "preflight")
    assert rc == 0, output[-3000:]
    assert "Check the ports the cluster needs between every pair of hosts" in output
