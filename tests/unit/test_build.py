"""The built collection is the product only, even when built from a working checkout full of other things."""

import os
import shutil
import subprocess
import sys
import tarfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# What a working checkout holds besides the product: the copy of the collection `make lint` leaves in .ansible/,
# the virtualenv, caches, a private key, an inventory of real hosts, a log, byte code, and the project's own
# lab, molecule scenarios and tests.
JUNK = [
    ".ansible/collections/ansible_collections/mhnet/cluster/plugins/modules/preflight.py",
    ".ansible/collections/ansible_collections/mhnet/cluster/roles/preflight/tasks/main.yml",
    ".ansible/collections/ansible_collections/mhnet/cluster/README.md",
    ".venv/lib/python3.11/site-packages/x.py",
    ".cache/build/mhnet-cluster-0.0.1.tar.gz",
    ".cache/collections/x.yml",
    "id_rsa",
    "id_rsa.pub",
    "inventory/prod.yml",
    "run.log",
    "notes.md",
    "mhnet-cluster-0.0.1.tar.gz",
    "plugins/modules/__pycache__/x.cpython-311.pyc",
    "plugins/modules/x.pyc",
    "roles/preflight/tasks/.main.yml.swp",
    "roles/preflight/tasks/main.yml~",
    "molecule/extra/molecule.yml",
    "tests/unit/test_extra.py",
    "lab/roles/lab/tasks/extra.yml",
    "playbooks/run.log",
    ".nox/sanity-2.17/lib/python3.11/site-packages/x.py",
    ".tox/py311/x.py",
    ".pytest_cache/v/cache/nodefirst",
    "tests/consumer/ansible.cfg",
    "meta/notes.txt~",
]

# Development files that are tracked but are not the product: pins of the tools, the session runners, the
# consumer fixture's requirements.
DEV_FILES = ["requirements-dev.txt", "requirements.txt", "noxfile.py", "tox.ini", "Makefile", "ansible.cfg",
             "requirements.yml", ".ansible-lint", "tests/consumer/requirements.yml", "changelogs/config.yaml",
             "changelogs/fragments/packaging.yml", "tools/changelog.py"]

# Top-level entries a built collection may hold.
PRODUCT = {"MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.md", "LICENSE", "COPYING", "changelogs", "meta",
           "plugins", "roles", "playbooks", "docs"}
REQUIRED = ["plugins/modules/preflight.py", "roles/preflight/tasks/main.yml", "meta/runtime.yml", "README.md",
            "LICENSE", "meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt",
            "changelogs/changelog.yaml"]
FORBIDDEN_PARTS = {"lab", "molecule", "tests", "__pycache__"}
FORBIDDEN_SUFFIXES = (".pyc", ".log", ".swp", "~", ".tar.gz")


def tracked_files():
    if not os.path.exists(os.path.join(REPO, ".git")) or shutil.which("git") is None:  # a file in a worktree
        pytest.skip("needs a git checkout")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [path for path in out.decode().split("\0") if path]


def ansible_galaxy():
    local = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    return local if os.path.exists(local) else shutil.which("ansible-galaxy")


@pytest.fixture(scope="module")
def built_files(tmp_path_factory):
    checkout = tmp_path_factory.mktemp("checkout")
    for path in tracked_files():
        source = os.path.join(REPO, path)
        if not os.path.lexists(source):  # deleted in the working tree, not yet committed
            continue
        os.makedirs(os.path.join(checkout, os.path.dirname(path)), exist_ok=True)
        shutil.copy2(source, os.path.join(checkout, path), follow_symlinks=False)
    for path in JUNK:
        os.makedirs(os.path.join(checkout, os.path.dirname(path)), exist_ok=True)
        with open(os.path.join(checkout, path), "w") as handle:
            handle.write("junk\n")
    output = tmp_path_factory.mktemp("build")
    result = subprocess.run([ansible_galaxy(), "collection", "build", "--output-path", str(output), str(checkout)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    (tarball,) = output.iterdir()
    with tarfile.open(tarball) as archive:
        return [member.name for member in archive.getmembers() if member.isfile()]


def test_the_product_is_in_the_tarball(built_files):
    assert sorted(set(REQUIRED) - set(built_files)) == []


def test_only_product_paths_are_in_the_tarball(built_files):
    assert sorted({name.split("/")[0] for name in built_files} - PRODUCT) == []


@pytest.mark.parametrize("junk", JUNK)
def test_no_junk_is_in_the_tarball(built_files, junk):
    assert junk not in built_files


def test_no_lab_test_cache_or_key_file_is_in_the_tarball(built_files):
    bad = [name for name in built_files
           if FORBIDDEN_PARTS & set(name.split("/")) or name.endswith(FORBIDDEN_SUFFIXES)
           or any(part.startswith(".") for part in name.split("/")) or "id_rsa" in name
           or name.startswith(("roles/lab", "playbooks/lab_", "plugins/modules/lab_"))]
    assert bad == []


def test_license_is_the_full_gpl3_text(built_files):
    """galaxy.yml declares GPL-3.0-or-later: the repository and the tarball carry the license's full text."""
    with open(os.path.join(REPO, "LICENSE"), encoding="utf-8") as handle:
        text = handle.read()
    assert text.lstrip().startswith("GNU GENERAL PUBLIC LICENSE")
    assert "Version 3, 29 June 2007" in text and "END OF TERMS AND CONDITIONS" in text
    assert "LICENSE" in built_files


def test_the_execution_environment_files_it_names_are_in_the_tarball(built_files):
    """meta/execution-environment.yml names its dependency files by path in the collection: the two that
    ansible-builder's introspection of an installed collection reads (python, system) ship. Its galaxy entry
    (requirements.yml) serves `ansible-builder create` from a checkout only (make ee)."""
    import yaml

    with open(os.path.join(REPO, "meta", "execution-environment.yml"), encoding="utf-8") as handle:
        ee = yaml.safe_load(handle)
    named = sorted(ee["dependencies"][key] for key in ("python", "system"))
    assert named and sorted(set(named) - set(built_files)) == []


def test_the_ee_python_requirements_are_not_the_development_pins():
    """ee-requirements.txt holds what the modules import, unpinned; the tools' pins stay in requirements-dev.txt."""
    with open(os.path.join(REPO, "meta", "ee-requirements.txt"), encoding="utf-8") as handle:
        lines = [line.split("#")[0].strip() for line in handle]
    names = {line.split(">")[0].split("=")[0].split("<")[0] for line in lines if line}
    assert names == {"docker", "requests"}
    assert not any("==" in line for line in lines)


@pytest.mark.parametrize("dev_file", DEV_FILES)
def test_no_development_file_is_in_the_tarball(built_files, dev_file):
    assert dev_file not in built_files
