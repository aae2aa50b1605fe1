#!/usr/bin/env bash
# The consumer fixture (`make consumer`): install the built tarball as a user would, bring up the consumer's lab once,
# and on each controller of CONSUMER_CORES (default: "newest oldest") run mhnet.cluster.site, then the consumer's own
# playbook that calls the roles one by one by FQCN, each followed by the cross-host fetch (verify.yml):
#   newest  the project's .venv (`make venv`: the newest ansible-core and the community.docker its Ansible carries);
#           then mhnet.cluster.site once more through ansible-runner (as AWX and the Automation Platform run a job),
#           its artifacts checked (check_runner_artifacts.py); then mhnet.cluster.undo, so the next core starts on
#           blank hosts
#   oldest  .cache/consumer/oldest, built here from requirements-oldest.txt: Python 3.11, the oldest ansible-core
#           meta/runtime.yml claims and the oldest community.docker of requirements.yml
# The lab is removed at the end, also on failure. Needs `make build` first (the Makefile's consumer target does it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)
lab_bin=$project/.venv/bin
cores=${CONSUMER_CORES:-newest oldest}
oldest=$project/.cache/consumer/oldest
timings=$project/.cache/consumer/timings.txt
mkdir -p "$project/.cache/consumer" && : >"$timings"

version=$("$lab_bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$project/galaxy.yml")
tarball=$project/.cache/build/mhnet-cluster-$version.tar.gz
[ -f "$tarball" ] || { echo "consumer: $tarball is missing: run make build first" >&2; exit 1; }
cp "$tarball" "$project/.cache/build/mhnet-cluster.tar.gz"

# The oldest controller: rebuilt when requirements-oldest.txt changes. Python 3.11 (ansible-core 2.17 runs on
# 3.10-3.12): python3.11 on PATH, else pyenv's 3.11 or 3.12, or CONSUMER_OLDEST_PYTHON.
oldest_python() {
  local candidate
  for candidate in ${CONSUMER_OLDEST_PYTHON:-} python3.11 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.11*/bin/python3 \
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3; do
    command -v "$candidate" >/dev/null 2>&1 && { command -v "$candidate"; return; }
  done
  echo "consumer: no Python 3.11 or 3.12 for the oldest ansible-core (set CONSUMER_OLDEST_PYTHON)" >&2
  return 1
}
build_oldest() {
  local requirements=$here/requirements-oldest.txt python core ansible
  [ -f "$oldest/.installed" ] && [ "$oldest/.installed" -nt "$requirements" ] && return
  local start=$SECONDS
  python=$(oldest_python)
  core=$(grep -m1 '^ansible-core==' "$requirements")
  ansible=$(grep -m1 '^ansible==' "$requirements")
  echo "consumer: building $oldest ($("$python" --version), $core, community.docker from $ansible)"
  rm -rf "$oldest" && mkdir -p "$oldest"
  "$python" -m venv "$oldest/venv"
  "$oldest/venv/bin/pip" install --quiet --disable-pip-version-check "$core"
  "$oldest/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --target "$oldest/ansible-package" "$ansible"
  mkdir -p "$oldest/collections/ansible_collections/community"
  mv "$oldest/ansible-package/ansible_collections/community/docker" "$oldest/collections/ansible_collections/community/"
  rm -rf "$oldest/ansible-package"
  touch "$oldest/.installed"
  echo "oldest controller built: $((SECONDS - start)) s" | tee -a "$timings"
}

cd "$here"
# The consumer's configuration only: not the project's ansible.cfg, not its linked checkout.
export ANSIBLE_CONFIG=$here/ansible.cfg
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS ANSIBLE_ROLES_PATH
base_path=$PATH

# use_core NAME: PATH and collection paths of that controller; installs the tarball with its ansible-galaxy.
use_core() {
  unset ANSIBLE_COLLECTIONS_PATH
  case "$1" in
    newest) bin=$lab_bin ;;
    oldest) build_oldest; bin=$oldest/venv/bin
            export ANSIBLE_COLLECTIONS_PATH=$here/collections:$oldest/collections ;;
    *) echo "consumer: unknown core '$1' in CONSUMER_CORES (newest, oldest)" >&2; exit 1 ;;
  esac
  export PATH=$bin:$base_path
  rm -rf collections
  ansible-galaxy collection install --offline --no-deps -r requirements.yml -p collections
  ansible --version | sed -n '1p;/python version/p'
  ansible-galaxy collection list mhnet.cluster
  ansible-galaxy collection list community.docker
  local installed docker
  installed=$("$bin/python" - <<'PY'
from ansible.plugins.loader import init_plugin_loader
from ansible.utils.collection_loader._collection_finder import _get_collection_path
init_plugin_loader()
print(_get_collection_path("mhnet.cluster"), _get_collection_path("community.docker"))
PY
)
  read -r installed docker <<<"$installed"
  case "$installed" in
    "$here"/collections/*) echo "consumer: mhnet.cluster from $installed; community.docker from $docker" ;;
    *) echo "consumer: mhnet.cluster resolves to $installed, not the installed tarball" >&2; exit 1 ;;
  esac
  core_label="$1: ansible-core $("$bin/python" -c 'import ansible.release as r; print(r.__version__)'),\
 community.docker $(ansible-galaxy collection list community.docker 2>/dev/null | awk '$1 == "community.docker" {print $2}'),\
 Python $("$bin/python" -c 'import platform; print(platform.python_version())')"
}

lab() {
  env -u ANSIBLE_COLLECTIONS_PATH PATH="$base_path" ANSIBLE_CONFIG="$project/ansible.cfg" "$lab_bin/ansible-playbook" \
    "$project/lab/$1" -e @"$here/lab.yml" -e lab_inventory_path="$here/inventory/lab.yml"
}
timed() {  # timed LABEL COMMAND...: run it and record its wall time in .cache/consumer/timings.txt
  local label=$1 start=$SECONDS; shift
  "$@"
  echo "$label: $((SECONDS - start)) s" | tee -a "$timings"
}

# ansible-runner as AWX runs a job: a private data directory with the project (this repository), the inventory,
# the job's extra vars (env/extravars: the group names); the project's ansible.cfg is found in the project directory,
# where ansible-runner runs ansible-playbook (ANSIBLE_CONFIG is unset for it), and the environment is this one.
runner_site() {
  local pdd=$project/.cache/consumer/runner ident=site
  rm -rf "$pdd" && mkdir -p "$pdd/env"
  ln -s "$here" "$pdd/project"
  ln -s "$here/inventory" "$pdd/inventory"
  printf '%s\n' "---" "mhnet_keystore_group: consul_servers" "mhnet_docker_group: app_nodes" >"$pdd/env/extravars"
  local rc=0
  env -u ANSIBLE_CONFIG "$bin/ansible-runner" run "$pdd" -p mhnet.cluster.site --ident "$ident" || rc=$?
  echo "consumer: ansible-runner exited $rc"
  "$lab_bin/python" "$here/check_runner_artifacts.py" "$pdd/artifacts/$ident"
  "$lab_bin/python" "$here/check_runner_artifacts.py" --self-test "$pdd/artifacts/$ident"
  [ "$rc" -eq 0 ]
}

groups=(-e mhnet_keystore_group=consul_servers -e mhnet_docker_group=app_nodes)
trap 'lab lab_down.yml >/dev/null || echo "consumer: lab_down failed" >&2' EXIT
lab lab_down.yml >/dev/null
timed "lab up" lab lab_up.yml
blank=true
for core in $cores; do
  use_core "$core"
  if [ "$blank" != true ]; then
    echo "consumer: [$core_label] mhnet.cluster.undo first: the hosts as blank as before"
    timed "[$core_label] undo" ansible-playbook "${groups[@]}" mhnet.cluster.undo
  fi
  echo "consumer: [$core_label] mhnet.cluster.site"
  timed "[$core_label] site + verify" ansible-playbook "${groups[@]}" mhnet.cluster.site verify.yml
  blank=false
  echo "consumer: [$core_label] the consumer's playbook, roles by FQCN"
  timed "[$core_label] roles_by_fqcn + verify" ansible-playbook roles_by_fqcn.yml verify.yml
  if [ "$core" = newest ]; then
    echo "consumer: [$core_label] mhnet.cluster.site through ansible-runner"
    timed "[$core_label] ansible-runner site" runner_site
  fi
done
echo "consumer: timings"; cat "$timings"
echo "consumer: passed"
