#!/usr/bin/env bash
# The consumer fixture (`make consumer`): install the built tarball as a user would, bring up the consumer's lab, run
# mhnet.cluster.site, then the consumer's own playbook that calls the roles one by one by FQCN, each followed by the
# cross-host fetch (verify.yml); the lab is removed at the end, also on failure.
# Needs `make build` first (the Makefile's consumer target does it). CONSUMER_COLLECTIONS_PATH: more collection paths
# searched before the Python environment's (e.g. an older community.docker to try the low end of the range).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)
# CONSUMER_BIN: the directory of the ansible-playbook that runs the consumer's playbooks (default: the project's
# virtualenv; another one to try another ansible-core). The lab always runs with the project's.
bin=${CONSUMER_BIN:-$project/.venv/bin}
lab_bin=$project/.venv/bin
export PATH=$bin:$PATH

version=$("$lab_bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$project/galaxy.yml")
tarball=$project/.cache/build/mhnet-cluster-$version.tar.gz
[ -f "$tarball" ] || { echo "consumer: $tarball is missing: run make build first" >&2; exit 1; }
cp "$tarball" "$project/.cache/build/mhnet-cluster.tar.gz"

cd "$here"
# The consumer's configuration only: not the project's ansible.cfg, not its linked checkout.
export ANSIBLE_CONFIG=$here/ansible.cfg
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS ANSIBLE_ROLES_PATH
rm -rf collections
ansible-galaxy collection install --offline --no-deps -r requirements.yml -p collections
if [ -n "${CONSUMER_COLLECTIONS_PATH:-}" ]; then
  export ANSIBLE_COLLECTIONS_PATH=$here/collections:$CONSUMER_COLLECTIONS_PATH
fi
ansible --version | sed -n 1p
ansible-galaxy collection list mhnet.cluster
ansible-galaxy collection list community.docker
installed=$("$bin/python" - <<'PY'
from ansible.plugins.loader import init_plugin_loader
from ansible.utils.collection_loader._collection_finder import _get_collection_path
init_plugin_loader()
print(_get_collection_path("mhnet.cluster"))
PY
)
case "$installed" in
  "$here"/collections/*) echo "consumer: mhnet.cluster from $installed" ;;
  *) echo "consumer: mhnet.cluster resolves to $installed, not the installed tarball" >&2; exit 1 ;;
esac

lab() {
  env -u ANSIBLE_COLLECTIONS_PATH ANSIBLE_CONFIG="$project/ansible.cfg" "$lab_bin/ansible-playbook" "$project/lab/$1" \
    -e @"$here/lab.yml" -e lab_inventory_path="$here/inventory/lab.yml"
}
trap 'lab lab_down.yml >/dev/null || echo "consumer: lab_down failed" >&2' EXIT
lab lab_down.yml >/dev/null
lab lab_up.yml

groups=(-e mhnet_keystore_group=consul_servers -e mhnet_docker_group=app_nodes)
echo "consumer: mhnet.cluster.site"
ansible-playbook "${groups[@]}" mhnet.cluster.site verify.yml
echo "consumer: the consumer's playbook, roles by FQCN"
ansible-playbook roles_by_fqcn.yml verify.yml
echo "consumer: passed"
