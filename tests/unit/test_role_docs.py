"""docs/roles.md is generated from every role's meta/argument_specs.yml: it cannot drift from the specs."""

import importlib.util
import os

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "tools", "generate_role_docs.py")
SPEC = importlib.util.spec_from_file_location("generate_role_docs", SCRIPT)
generator = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(generator)


def committed_page():
    with open(os.path.join(REPO, generator.PAGE), encoding="utf-8") as handle:
        return handle.read()


def test_the_role_reference_is_what_the_argument_specs_give_now():
    assert committed_page() == generator.render(), (
        "docs/roles.md differs from roles/*/meta/argument_specs.yml (an entry point or a variable was added or "
        "changed): regenerate it from the repository's root with\n\n    %s\n\nand commit docs/roles.md with the "
        "spec." % generator.COMMAND)


@pytest.fixture(scope="module")
def page():
    return generator.render()


def every_entry_point():
    for role in sorted(os.listdir(os.path.join(REPO, "roles"))):
        path = os.path.join(REPO, "roles", role, "meta", "argument_specs.yml")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                for entry, spec in (yaml.safe_load(handle).get("argument_specs") or {}).items():
                    yield role, entry, spec or {}


@pytest.mark.parametrize("role,entry,spec", list(every_entry_point()),
                         ids=lambda value: value if isinstance(value, str) else "")
def test_every_entry_point_and_variable_is_on_the_page(role, entry, spec, page):
    assert "### %s: %s\n" % (role, entry) in page
    for name in spec.get("options") or {}:
        assert "| `%s` |" % name in page


def test_markup_becomes_markdown():
    assert generator.text(["C(a) and O(b=c)", "M(mhnet.cluster.x) I(it) B(bold) U(https://x.org) L(t, https://y)"]) \
        == "`a` and `b=c` `mhnet.cluster.x` *it* **bold** <https://x.org> [t](https://y)"
    assert generator.text("a | b") == "a \\| b"
