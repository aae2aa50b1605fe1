"""Make this checkout importable as ansible_collections.mhnet.cluster (what `make venv` links)."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, ".cache", "collections")


def _link_collection():
    link = os.path.join(COLLECTIONS, "ansible_collections", "mhnet", "cluster")
    if not os.path.lexists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.relpath(REPO, os.path.dirname(link)), link)


_link_collection()
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

# ansible-core before 2.19 has no ansible.module_utils.testing (patch_module_args, which the module-level tests use):
# there (nox's 2.17 sessions, noxfile.py) those tests are not collected; the rest runs on every release.
try:
    import ansible.module_utils.testing  # noqa: F401  pylint: disable=unused-import
except ImportError:
    collect_ignore_glob = ["plugins/modules/*", "plugins/action/*"]
