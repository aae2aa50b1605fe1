"""Put the offline pip bootstrap (get_pip_offline.py) where the ansible-test run by this interpreter looks for it.

ansible-test downloads get-pip from ci-files.testing.ansible.com, a host outside the package registries, unless
~/.ansible/test/cache/get_pip_<version>.py exists. The version is ansible-test's own: the `pip` entry of
get_venv_packages() in ansible_test/_internal/python_requirements.py (23.1.2 in 2.17, 24.2 in 2.19, 25.2 in 2.20
and 2.21), per target Python. So this asks the installed ansible-test rather than naming a version.

Usage: python tests/sanity/pip_bootstrap.py [PYTHON_VERSION ...] (default: this interpreter's X.Y).
"""

import os
import shutil
import sys
import types

from ansible_test._internal.python_requirements import get_venv_packages

STAND_IN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "get_pip_offline.py")
# ansible_test/_util/target/setup/requirements.py: bootstrap()'s cache_path
CACHE = os.path.expanduser("~/.ansible/test/cache")

versions = sys.argv[1:] or [f"{sys.version_info[0]}.{sys.version_info[1]}"]
os.makedirs(CACHE, exist_ok=True)
for version in versions:
    # get_venv_packages reads only the PythonConfig's version
    pip_version = get_venv_packages(types.SimpleNamespace(version=version))["pip"]
    target = os.path.join(CACHE, f"get_pip_{pip_version.replace('.', '_')}.py")
    shutil.copyfile(STAND_IN, target)
    print(f"pip {pip_version} bootstrap for Python {version}: {target}")
