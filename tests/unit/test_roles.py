"""Every role documents each of its defaults in meta/argument_specs.yml, with the same default value, in the entry
points that use it; defaults live in defaults/main.yml only."""

import os
import re

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The collection's roles, and the project's lab (not part of the collection).
ROLE_DIRS = ["roles", os.path.join("lab", "roles")]
ROLES = sorted(os.path.join(parent, name) for parent in ROLE_DIRS for name in os.listdir(os.path.join(REPO, parent)))


def load(role, *parts):
    path = os.path.join(REPO, role, *parts)
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return yaml.safe_load(handle) or {}


def test_the_lab_role_is_checked():
    assert os.path.join("lab", "roles", "lab") in ROLES


def entry_points(role):
    return load(role, "meta", "argument_specs.yml")["argument_specs"]


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_mirror_defaults(role):
    """Each default is documented by the entry points that use it, each with the value defaults/main.yml sets."""
    defaults = load(role, "defaults", "main.yml")
    documented = set()
    for entry, spec in entry_points(role).items():
        for key, option in (spec.get("options") or {}).items():
            documented.add(key)
            assert option.get("description"), "%s: %s is undocumented" % (entry, key)
            if key in defaults:
                assert option.get("default") == defaults[key], "%s: %s: documented default differs" % (entry, key)
            elif entry == "main":
                assert "default" not in option, "%s: %s: a default that defaults/main.yml does not set" % (entry, key)
    assert sorted(set(defaults) - documented) == [], "defaults missing from argument_specs.yml"


def role_files(role):
    for parent, _dirs, files in os.walk(os.path.join(REPO, role)):
        for name in sorted(files):
            if name.endswith((".yml", ".j2")):
                yield os.path.join(parent, name)


@pytest.mark.parametrize("role", ROLES)
def test_no_inline_default_for_a_role_default(role):
    """A default lives in defaults/main.yml only: `| default(...)` on one would be a second, drifting home."""
    names = "|".join(re.escape(name) for name in load(role, "defaults", "main.yml"))
    if not names:
        return
    inline = re.compile(r"(?<![\w.])(%s)\s*\|\s*default\(" % names)
    bad = []
    for path in role_files(role):
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if inline.search(line):
                    bad.append("%s:%d: %s" % (os.path.relpath(path, REPO), number, line.strip()))
    assert bad == []


def used_names(role, path, seen):
    """The role's public variables that a task file, the task files it includes and the vars files it loads name."""
    if path in seen or not os.path.exists(path):
        return set()
    seen.add(path)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    prefix = os.path.basename(role)
    found = set(re.findall(r"(?<![\w.])(%s_[a-z0-9_]+)" % re.escape(prefix), text))
    for kind, name in re.findall(r"(include_tasks|import_tasks|include_vars):\s*([\w.-]+\.yml)", text):
        folder = "vars" if kind == "include_vars" else "tasks"
        found |= used_names(role, os.path.join(REPO, role, folder, name), seen)
    return found


# The roles whose jobs are separated by entry point (issue 16): membership, rolling restart, backup and restore.
SEPARATED = [
    (os.path.join("roles", role), entry)
    for role, entries in (("swarm", ["main", "leave", "absent", "backup", "restore", "rolling"]), ("keystore", ["backup", "restore"]))
    for entry in entries
]


def test_every_separated_entry_point_exists():
    assert sorted(SEPARATED) == sorted(
        (role, entry) for role, entry in SEPARATED if entry in entry_points(role) and os.path.exists(os.path.join(REPO, role, "tasks", entry + ".yml"))
    )


@pytest.mark.parametrize("role, entry", SEPARATED)
def test_each_entry_point_documents_the_variables_it_uses(role, entry):
    """An entry point's spec names what it reads: no role-wide variable that only another entry point uses."""
    defaults = set(load(role, "defaults", "main.yml"))
    used = used_names(role, os.path.join(REPO, role, "tasks", entry + ".yml"), set())
    options = set(entry_points(role)[entry].get("options") or {})
    assert sorted((used & defaults) - options) == [], "%s uses undocumented variables" % entry
    assert sorted((options & defaults) - used) == [], "%s documents variables it does not use" % entry
