"""Every role documents each of its defaults in meta/argument_specs.yml, with the same default value."""

import os

import pytest
import yaml

ROLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")


def load(role, *parts):
    with open(os.path.join(ROLES, role, *parts)) as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize("role", sorted(os.listdir(ROLES)))
def test_argument_specs_mirror_defaults(role):
    defaults = load(role, "defaults", "main.yml")
    options = load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted(defaults), "argument_specs.yml and defaults/main.yml list different keys"
    for key, value in defaults.items():
        assert options[key].get("default") == value, "%s: documented default differs from defaults/main.yml" % key
        assert options[key].get("description"), "%s is undocumented" % key
