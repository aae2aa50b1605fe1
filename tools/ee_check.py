"""`make ee`: the execution environment's build context from meta/execution-environment.yml, checked offline.

1. Places the definition at a collection root, as its paths expect (relative to the collection root, the only base
   ansible-builder's introspection accepts): .cache/ee/root is the built tarball unpacked (what a user installs),
   with requirements.yml and the tarball itself beside it.
2. Runs `ansible-builder create` there (no registry, no container engine needed), writing .cache/ee/context.
3. Compares the context with the sources: _build/requirements.txt is meta/ee-requirements.txt, _build/bindep.txt is
   meta/ee-bindep.txt, _build/requirements.yml is requirements.yml, _build/collections/ holds the built tarball; the
   Containerfile installs requirements.yml, then the tarball, and the ansible-core and ansible-runner pins of
   requirements-dev.txt for the default controller.
4. Runs the context's own introspection script (what the build runs on the EE's collections) on the tarball and the
   community.docker of the environment: mhnet.cluster must contribute exactly meta/ee-requirements.txt and
   meta/ee-bindep.txt.
Every difference is printed; the exit status is 1 if there is one.
"""

import difflib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(REPO, ".cache", "ee")
ROOT = os.path.join(CACHE, "root")
CONTEXT = os.path.join(CACHE, "context")
BUILD = os.path.join(CONTEXT, "_build")


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def lines(path):
    """Requirement lines as ansible-builder reads them: no blank lines, no comments."""
    return [line.strip() for line in read(path).splitlines() if line.strip() and not line.strip().startswith("#")]


def diff(expected_path, actual_path):
    return "".join(difflib.unified_diff(read(expected_path).splitlines(True), read(actual_path).splitlines(True),
                                        os.path.relpath(expected_path, REPO), os.path.relpath(actual_path, REPO)))


def tarball():
    version = yaml.safe_load(read(os.path.join(REPO, "galaxy.yml")))["version"]
    path = os.path.join(REPO, ".cache", "build", f"mhnet-cluster-{version}.tar.gz")
    if not os.path.isfile(path):
        sys.exit(f"ee: {path} is missing: run make build first")
    return path


def stage(built):
    shutil.rmtree(CACHE, ignore_errors=True)
    os.makedirs(ROOT)
    with tarfile.open(built) as archive:
        archive.extractall(ROOT, filter="data")
    for name in ("meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt"):
        if not os.path.isfile(os.path.join(ROOT, name)):
            sys.exit(f"ee: the built tarball lacks {name} (galaxy.yml's manifest): an EE could not read it")
    shutil.copy(os.path.join(REPO, "requirements.yml"), ROOT)
    shutil.copy(built, ROOT)


def builder_create():
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-builder"), "create", "-f",
               os.path.join(ROOT, "execution-environment.yml"), "--context", CONTEXT,
               "--output-filename", "Containerfile"]
    # The definition is the built collection's own meta/execution-environment.yml, placed at its root.
    shutil.copy(os.path.join(ROOT, "meta", "execution-environment.yml"), os.path.join(ROOT, "execution-environment.yml"))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    print(f"ee: {' '.join(os.path.relpath(part, REPO) if part.startswith(REPO) else part for part in command)}"
          f" -> rc {result.returncode}")
    if result.returncode != 0:
        sys.exit(f"ee: ansible-builder create failed:\n{result.stdout}{result.stderr}")


def dev_pin(name):
    """The pin requirements-dev.txt gives `name` for the default controller (Python 3.12+)."""
    for line in lines(os.path.join(REPO, "requirements-dev.txt")):
        line = line.split(" #", 1)[0].strip()
        match = re.match(rf"^{re.escape(name)}==(\S+)\s*(;\s*(.*))?$", line)
        if match and (not match.group(3) or ">=" in match.group(3)):
            return f"{name}=={match.group(1)}"
    return None


def compare_context(built):
    problems = []
    for source, name in (("meta/ee-requirements.txt", "requirements.txt"), ("meta/ee-bindep.txt", "bindep.txt"),
                         ("requirements.yml", "requirements.yml")):
        expected, actual = os.path.join(REPO, source), os.path.join(BUILD, name)
        if not os.path.isfile(actual):
            problems.append(f"the context has no _build/{name} (expected a copy of {source})")
        elif read(expected) != read(actual):
            problems.append(f"_build/{name} differs from {source}:\n{diff(expected, actual)}")
    copied = os.path.join(BUILD, "collections", os.path.basename(built))
    if not os.path.isfile(copied):
        problems.append(f"the context has no _build/collections/{os.path.basename(built)} (mhnet.cluster itself)")
    elif read_bytes(copied) != read_bytes(built):
        problems.append(f"_build/collections/{os.path.basename(built)} is not the built tarball {built}")
    others = sorted(set(os.listdir(os.path.join(BUILD, "collections"))) - {os.path.basename(built)}) \
        if os.path.isdir(os.path.join(BUILD, "collections")) else []
    if others:
        problems.append(f"_build/collections/ holds other tarballs too: {others}")

    containerfile = read(os.path.join(CONTEXT, "Containerfile"))
    galaxy = containerfile.find("ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml")
    own = containerfile.find("/build/collections/mhnet-cluster-*.tar.gz")
    if galaxy < 0:
        problems.append("the Containerfile does not install requirements.yml's collections")
    if own < 0:
        problems.append("the Containerfile does not install mhnet.cluster's tarball")
    elif galaxy > own:
        problems.append("the Containerfile installs mhnet.cluster before requirements.yml's collections")
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', containerfile, re.M)
    wanted = " ".join(pin for pin in (dev_pin("ansible-core"), dev_pin("ansible-runner")) if pin)
    if not refs or refs.group(1) != wanted:
        problems.append(f"the EE installs {refs.group(1) if refs else 'no ansible-core/ansible-runner'}, "
                        f"requirements-dev.txt's default controller has {wanted!r}: make them agree")
    return problems


def read_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def introspect(built):
    """What the build's introspection (the context's own script) finds in the EE's collections."""
    problems = []
    collections = os.path.join(CACHE, "collections")
    target = os.path.join(collections, "ansible_collections", "mhnet", "cluster")
    os.makedirs(target)
    with tarfile.open(built) as archive:
        archive.extractall(target, filter="data")
    # community.docker as the default controller has it (the `ansible` package): its own meta files only.
    docker_spec = importlib.util.find_spec("ansible_collections.community.docker")
    if docker_spec is None:
        sys.exit("ee: community.docker is not installed in this Python environment (make venv)")
    docker_dir = list(docker_spec.submodule_search_locations)[0]
    shutil.copytree(docker_dir, os.path.join(collections, "ansible_collections", "community", "docker"),
                    ignore=shutil.ignore_patterns("plugins", "tests", "docs"))
    spec = importlib.util.spec_from_file_location("ee_introspect", os.path.join(BUILD, "scripts", "introspect.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = module.process(data_dir=collections)
    ours_pip = data["python"].get("mhnet.cluster", [])
    ours_bindep = data["system"].get("mhnet.cluster", [])
    expected_pip = lines(os.path.join(REPO, "meta", "ee-requirements.txt"))
    expected_bindep = lines(os.path.join(REPO, "meta", "ee-bindep.txt"))
    if ours_pip != expected_pip:
        problems.append(f"introspection finds mhnet.cluster's Python requirements {ours_pip}, "
                        f"meta/ee-requirements.txt has {expected_pip}")
    if ours_bindep != expected_bindep:
        problems.append(f"introspection finds mhnet.cluster's system requirements {ours_bindep}, "
                        f"meta/ee-bindep.txt has {expected_bindep}")
    merged = module.filter_requirements(data["python"])
    print(f"ee: introspection: mhnet.cluster {ours_pip or 'nothing'} (Python), {ours_bindep or 'nothing'} (system); "
          f"community.docker {data['python'].get('community.docker', [])}; the EE's Python requirements: {merged}")
    return problems


def main():
    start = time.monotonic()
    built = tarball()
    stage(built)
    builder_create()
    problems = compare_context(built) + introspect(built)
    for problem in problems:
        print(f"ee: {problem}", file=sys.stderr)
    elapsed = time.monotonic() - start
    if problems:
        print(f"ee: {len(problems)} difference(s) between the build context and its sources ({elapsed:.1f} s)",
              file=sys.stderr)
        return 1
    print(f"ee: the build context in {os.path.relpath(CONTEXT, REPO)} matches meta/ee-requirements.txt, "
          f"meta/ee-bindep.txt and requirements.yml, and carries mhnet.cluster ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
