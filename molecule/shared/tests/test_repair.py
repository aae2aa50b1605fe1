"""A run repairs what it finds broken (issue 17, case 8): my-net removed by hand and made again by the next run, with
web and the probe recreated on the network that exists, then 0 changed and the page fetched across hosts."""

import re


def changed_counts(output):
    return dict((host, int(count)) for host, count in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.MULTILINE))


def test_a_network_removed_by_hand_is_made_again_and_the_containers_follow_it(lab_hosts, run_site, docker, fetch_page):
    web_host, probe_host = lab_hosts["mhs-demo0"], lab_hosts["mhs-demo1"]
    before = docker(web_host, "network", "inspect", "--format", "{{.Id}}", "my-net")
    docker(web_host, "stop", "web")
    docker(probe_host, "stop", "probe")
    docker(web_host, "network", "rm", "my-net")

    rc, output = run_site()
    assert rc == 0, output[-3000:]
    after = docker(web_host, "network", "inspect", "--format", "{{.Id}}", "my-net")
    assert after != before
    for host, name in ((web_host, "web"), (probe_host, "probe")):
        attached = docker(host, "inspect", "--format", "{{(index .NetworkSettings.Networks \"my-net\").NetworkID}}", name)
        assert attached == after, (name, attached, after)

    rc, output = run_site()
    assert rc == 0 and set(changed_counts(output).values()) == {0}, output[-3000:]
    assert "Welcome to nginx!" in fetch_page(probe_host)
