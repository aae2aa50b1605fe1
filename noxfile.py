"""Sanity and unit tests against each ansible-core release the collection supports (`make compat`, or `nox`).

meta/runtime.yml's requires_ansible names the oldest release tried here; the newest is the one `make venv` pins.
Each session gets its own virtualenv under .nox/ with that ansible-core and the unit tests' few packages.
"""

import os
import shutil
import subprocess

import nox

# The oldest ansible-core that meta/runtime.yml claims, and the newest release (requirements-dev.txt's pin).
# 2.15 and 2.16 install on Python 3.11 too (Requires-Python >=3.10 for 2.16) but are not tried, so not claimed; 2.18
# lies between the two tried here.
ANSIBLE_CORE = {"2.17": "ansible-core==2.17.14", "2.19": "ansible-core==2.19.14"}
UNIT_PACKAGES = ["pytest==9.2.0", "docker==7.2.0", "requests==2.34.2", "distlib==0.4.4"]
REPO = os.path.dirname(os.path.abspath(__file__))

nox.options.sessions = ["sanity", "unit"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


def checkout_files():
    """What `make sanity` copies: tracked files and untracked ones not ignored."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, check=True).stdout
    return [path for path in out.decode().split("\0") if path and os.path.lexists(os.path.join(REPO, path))]


@nox.session
@nox.parametrize("core", list(ANSIBLE_CORE))
def sanity(session, core):
    """ansible-test sanity (no ignore file) on a copy placed under ansible_collections/mhnet/cluster."""
    session.install(ANSIBLE_CORE[core])
    root = os.path.join(session.create_tmp(), "ansible_collections", "mhnet", "cluster")
    shutil.rmtree(os.path.dirname(os.path.dirname(root)), ignore_errors=True)
    for path in checkout_files():
        os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
        shutil.copy2(os.path.join(REPO, path), os.path.join(root, path), follow_symlinks=False)
    # ansible-test downloads a pip bootstrap script from a host outside the package registries: bootstrap offline
    # (as `make sanity` does), under every name the releases tried here look for.
    cache = os.path.expanduser("~/.ansible/test/cache")
    os.makedirs(cache, exist_ok=True)
    for name in ("get_pip_24_2.py", "get_pip_24_0.py", "get_pip_23_1_2.py"):
        shutil.copy(os.path.join(REPO, "tests", "sanity", "get_pip_offline.py"), os.path.join(cache, name))
    session.run("git", "init", "-q", root, external=True)
    session.run("git", "-C", root, "add", "-A", external=True)
    with session.chdir(root):
        session.run("ansible-test", "sanity", "--python", "3.11", "--color", "no", *session.posargs)


@nox.session
@nox.parametrize("core", list(ANSIBLE_CORE))
def unit(session, core):
    """pytest tests/unit (tests that need 2.19's ansible.module_utils.testing are skipped on older releases)."""
    session.install(ANSIBLE_CORE[core], *UNIT_PACKAGES)
    session.run("pytest", "-q", "tests/unit", *session.posargs)
