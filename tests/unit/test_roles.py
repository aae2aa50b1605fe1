"""Every role documents each of its defaults in meta/argument_specs.yml, with the same default value."""

import os

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


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_mirror_defaults(role):
    defaults = load(role, "defaults", "main.yml")
    options = load(role, "meta", "argument_specs.yml")["argument_specs"]["main"].get("options") or {}
    assert sorted(set(defaults) - set(options)) == [], "defaults missing from argument_specs.yml"
    for key, spec in options.items():
        assert spec.get("description"), "%s is undocumented" % key
        if key in defaults:
            assert spec.get("default") == defaults[key], "%s: documented default differs from defaults/main.yml" % key
        else:
            assert "default" not in spec, "%s documents a default that defaults/main.yml does not set" % key
