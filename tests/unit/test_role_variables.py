"""Roles used from another repository leak no variable without their prefix (issue 11).

Every name a role's tasks register or set_fact, and every loop_var, is the role's (`ROLE_`, `_ROLE_`, `__ROLE_`)
or one of the facts preflight publishes (`mhnet_*`); so a consumer's own variables between two roles are never
overwritten. Task-level `vars:` do not outlive their task and are not checked.
"""

import glob
import os

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.path.basename(path) for path in glob.glob(os.path.join(REPO, "roles", "*")) if os.path.isdir(path))


def names(node):
    if isinstance(node, list):
        for item in node:
            yield from names(item)
    elif isinstance(node, dict):
        if isinstance(node.get("register"), str):
            yield "register", node["register"]
        for key in ("ansible.builtin.set_fact", "set_fact"):
            if isinstance(node.get(key), dict):
                yield from (("set_fact", name) for name in node[key] if name != "cacheable")
        loop_control = node.get("loop_control")
        if isinstance(loop_control, dict) and loop_control.get("loop_var"):
            yield "loop_var", loop_control["loop_var"]
        for key in ("block", "rescue", "always"):
            yield from names(node.get(key))


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_a_role_sets_has_its_prefix(role):
    bad = []
    for path in sorted(glob.glob(os.path.join(REPO, "roles", role, "*", "*.yml"))):
        if os.path.basename(os.path.dirname(path)) not in ("tasks", "handlers"):
            continue
        with open(path, encoding="utf-8") as handle:
            for kind, name in names(yaml.safe_load(handle)):
                if not name.startswith((role + "_", "_" + role + "_", "__" + role + "_", "mhnet_")):
                    bad.append("%s: %s %s" % (os.path.relpath(path, REPO), kind, name))
    assert bad == []


@pytest.mark.parametrize("role", ROLES)
def test_no_role_reaches_into_this_repository(role):
    """Installed from a tarball, a role has only itself: no playbook_dir, inventory_dir or ../ path."""
    bad = []
    for path in sorted(glob.glob(os.path.join(REPO, "roles", role, "**", "*.yml"), recursive=True)):
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if "playbook_dir" in line or "inventory_dir" in line or "../" in line:
                    bad.append("%s:%d: %s" % (os.path.relpath(path, REPO), number, line.strip()))
    assert bad == []
