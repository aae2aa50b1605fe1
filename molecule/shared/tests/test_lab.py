"""A lab host is a real machine for the collection: systemd, a Docker engine of its generation, the images."""


def test_systemd_is_pid_1_and_docker_service_is_active(host):
    assert host.check_output("ps -p 1 -o comm=") == "systemd"
    assert host.service("docker").is_running
    assert host.check_output("systemctl is-active docker.service") == "active"


def test_hostname_is_the_inventory_name(host, host_vars):
    assert host.check_output("hostname") == host_vars["inventory_hostname"]


def test_hostnames_are_distinct_across_the_lab(lab_hosts):
    hostnames = {name: lab_host.check_output("hostname") for name, lab_host in lab_hosts.items()}
    assert len(hostnames) >= 2
    assert len(set(hostnames.values())) == len(hostnames), hostnames


def test_engine_version_matches_the_generation(host, host_vars, docker):
    version = docker(host, "version", "--format", "{{.Server.Version}}")
    assert version.split("+")[0] == host_vars["lab_docker_version"], (host_vars["lab_generation"], version)


def test_the_cluster_address_is_on_a_lab_interface(host, host_vars, cluster_interface):
    address = host_vars["mhnet_cluster_address"]
    interface = cluster_interface(host, address)
    assert address in host.interface(interface).addresses
    assert interface != "lo"


def test_a_secondary_cluster_address_is_secondary_and_the_source_towards_the_cluster(host, host_vars):
    if not host_vars.get("lab_cluster_address_is_secondary"):
        return
    address = host_vars["mhnet_cluster_address"]
    assert " secondary " in host.check_output("ip -o -4 addr show to %s" % address)
    peer = address.rsplit(".", 1)[0] + ".1"
    assert "src %s " % address in host.check_output("ip -o -4 route get %s" % peer)


def test_cluster_images_are_present_where_needed(host, host_vars):
    assert host_vars["images_list"], "the lab inventory lists no images"
    for image in host_vars["images_list"]:
        present = host.run("docker image inspect --format '{{.Id}}' %s" % image["name"]).stdout.startswith("sha256:")
        assert present == bool(set(image["groups"]) & set(host_vars["group_names"])), (image, host_vars["group_names"])


def test_a_container_runs_on_the_engine(host, host_vars, docker):
    images = [image["name"] for image in host_vars["images_list"] if set(image["groups"]) & set(host_vars["group_names"])]
    assert images, "no lab image is meant for this host"
    greeting = "hello from " + host_vars["inventory_hostname"]
    output = docker(host, "run", "--rm", "--entrypoint", "echo", images[0], greeting)
    assert output == greeting
