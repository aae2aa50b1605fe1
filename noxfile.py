"""Sanity and unit tests on each tested ansible-core release, and the community collections' checks (`make compat`).

The sessions come from antsibull-nox (the community collections' CI helper), configured in antsibull-nox.toml:
docs-check (antsibull-docs lint-collection-docs), extra-checks (no unwanted files, the `docker` action group) and
build-import-check (ansible-galaxy collection build, then galaxy-importer; not run by `make compat` yet, see
nox.options.sessions below). The ansible-test sanity sessions use
antsibull-nox's add_ansible_test_session. What this file adds, and why:

- The cores and their Pythons (CORES): meta/runtime.yml's oldest and the maintained releases on PyPI. antsibull-nox
  would install each core from a GitHub archive of its stable branch and run ansible-test with --docker (images from
  quay.io); neither host is reachable here, so cores come from PyPI (exact pins, through a constraints file) and
  ansible-test runs in the session's virtualenv, on the Python chosen here (antsibull-nox would take any Python
  the core supports; nox prefers the one it runs on).
- The pip bootstrap: ansible-test downloads get-pip from ci-files.testing.ansible.com; tests/sanity/pip_bootstrap.py
  asks the session's ansible-test which pip it wants and puts tests/sanity/get_pip_offline.py under that name.
- Collections: Galaxy is not reachable. community.docker (galaxy.yml's dependency) comes from the `ansible`
  package nox runs with (requirements-dev.txt), and antsibull-nox is told never to install a collection.
- The unit sessions: antsibull-nox's run `ansible-test units --docker` (containers again, and ansible-test's own
  pytest); tests/unit is a plain pytest suite (it builds the collection, reads roles/ and changelogs/), so it runs
  with pytest and the pinned UNIT_PACKAGES on each core.
"""

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import antsibull_nox
import nox

REPO = Path(__file__).resolve().parent
# core: (the release tried, its Python). 2.17 is meta/runtime.yml's requires_ansible (Python 3.10-3.12 on the
# controller); 2.20 and 2.21 need 3.12+. 2.18 and 2.19 lie between and are not run.
CORES = {
    "2.17": ("2.17.14", "3.11"),
    "2.20": ("2.20.10", "3.12"),
    "2.21": ("2.21.5", "3.13"),
}
UNIT_PACKAGES = ["pytest==9.2.0", "docker==7.2.0", "requests==2.34.2", "distlib==0.4.4"]
# Everything antsibull-nox installs that is not a core: pinned as requirements-dev.txt pins.
CHECK_PACKAGES = ["antsibull-docs==2.28.0", "antsibull-docutils==1.4.1", "galaxy-importer==0.4.44", "distlib==0.4.4"]
NOX_DATA = REPO / ".nox"

nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


def _constraints():
    """Pin each core (antsibull-nox asks pip for `ansible-core>=2.20,<2.21`) and the checks' packages.

    A core is picked by its Python (each tested core has its own), so the checks that install ansible-core on the
    Python nox runs with get that Python's tested core. Any constraint file already set in the environment stays.
    """
    lines = [f'ansible-core=={version}; python_version == "{python}"' for version, python in CORES.values()]
    NOX_DATA.mkdir(exist_ok=True)
    path = NOX_DATA / "constraints.txt"
    path.write_text("\n".join(lines + CHECK_PACKAGES) + "\n")
    os.environ["PIP_CONSTRAINT"] = " ".join(filter(None, [os.environ.get("PIP_CONSTRAINT"), str(path)]))


def _offline_collections():
    """The collections of the `ansible` package nox runs with: community.docker and what it depends on."""
    spec = importlib.util.find_spec("ansible_collections.community.docker")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("noxfile.py: community.docker not found; run nox from .venv (make venv installs the ansible package)")
    # .../site-packages/ansible_collections/community/docker: the collections path is site-packages
    collections_path = Path(list(spec.submodule_search_locations)[0]).parents[2]
    # antsibull-nox lists the collections ansible-galaxy sees (`ansible-galaxy collection list`) before it would
    # download one from Galaxy, and installs only the dependencies (galaxy.yml's, transitively) into each session's
    # tree; `never` turns a missing one into an error instead of a Galaxy download.
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(collections_path)
    os.environ["ANTSIBULL_NOX_INSTALL_COLLECTIONS"] = "never"


def _interpreters():
    """Each core's Python on PATH for nox: a pythonX.Y there that runs, else pyenv's newest X.Y.

    nox finds interpreters by name on PATH. pyenv's shims may be there (they are on this machine and on CI) but
    fail for a version that `pyenv global` does not select, so the interpreters themselves are put first, from
    $PYENV_ROOT/versions (default ~/.pyenv).
    """
    pyenv_versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    extra = []
    for _version, python in CORES.values():
        found = shutil.which(f"python{python}")
        if found and subprocess.run([found, "-c", ""], capture_output=True, check=False).returncode == 0:
            continue
        found = sorted(pyenv_versions.glob(f"{python}.*/bin/python{python}"),
                       key=lambda path: [int(part) for part in path.parents[1].name.split(".") if part.isdigit()])
        if found:
            extra.append(str(found[-1].parent))
    os.environ["PATH"] = os.pathsep.join(extra + [os.environ.get("PATH", "")])


def _envdir(name):
    """The virtualenv nox gives session `name` (nox's own naming: .nox/ and the name made path-safe)."""
    return NOX_DATA / re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "-", name).strip().lower()).strip("-")


def _pip_bootstrap(name, python):
    """antsibull-nox's callback before ansible-test runs (in the session, which the callback is not given)."""
    interpreter = _envdir(name) / "bin" / "python"
    if not interpreter.exists():
        raise RuntimeError(f"{interpreter} not found: run nox with its default --envdir")
    subprocess.run([str(interpreter), str(REPO / "tests" / "sanity" / "pip_bootstrap.py"), python], check=True)


def _output_dirs():
    """antsibull-nox's callback after ansible-test (in the collection's copy): make tests/output's directories here.

    antsibull-nox 1.10.0 copies the copy's tests/output back into the checkout walking bottom-up and creating each
    directory without its parents, so a nested one (2.17's tests/output/.tmp/pylint) fails with FileNotFoundError.
    """
    for directory in Path("tests", "output").glob("**/"):
        (REPO / directory).mkdir(parents=True, exist_ok=True)


def _unit_session(core, version, python):
    def unit(session):
        session.install(f"ansible-core=={version}", *UNIT_PACKAGES)
        session.run("pytest", "-q", "tests/unit", *session.posargs)

    unit.__doc__ = (f"pytest tests/unit on ansible-core {version}, Python {python} (tests that need 2.19's "
                    "ansible.module_utils.testing are skipped before 2.19)")
    nox.session(name=f"unit-{core}", python=python, default=False)(unit)


_constraints()
_offline_collections()
_interpreters()
antsibull_nox.load_antsibull_nox_toml()

for _core, (_version, _python) in CORES.items():
    _name = f"sanity-{_core}"
    antsibull_nox.add_ansible_test_session(
        name=_name,
        description=f"ansible-test sanity (no ignore file) from ansible-core {_version} on Python {_python}",
        ansible_test_params=["sanity", "--color", "no", "--python", _python],
        default=False,
        ansible_core_version=_core,
        ansible_core_source="pypi",
        callback_before=functools.partial(_pip_bootstrap, _name, _python),
        callback_after=_output_dirs,
    )
    # add_ansible_test_session allows every controller Python of the core; the tested one is CORES's.
    nox.registry.get()[_name].python = _python
    _unit_session(_core, _version, _python)

# build-import-check is not in `make compat` yet: galaxy-importer refuses the tarball ("Invalid collection
# metadata. 'repository' is required": galaxy.yml's repository is empty until a public one exists; then "No role
# readme found": no role has a README.md). Galaxy would refuse an upload for the same reasons.
nox.options.sessions = [f"{kind}-{core}" for core in CORES for kind in ("sanity", "unit")] + [
    "extra-checks", "docs-check"]
