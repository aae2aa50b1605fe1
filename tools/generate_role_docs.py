"""Write docs/roles.md, the role reference, from every role's meta/argument_specs.yml (every entry point).

  python tools/generate_role_docs.py           write docs/roles.md  (`make role-docs`)
  python tools/generate_role_docs.py --check   exit 1 when docs/roles.md differs from what the specs give now

tests/unit/test_role_docs.py runs the check, so the page cannot drift from the specs.
"""

import argparse
import json
import os
import re
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join("docs", "roles.md")
COMMAND = ".venv/bin/python tools/generate_role_docs.py  (or: make role-docs)"
NAMESPACE = "mhnet.cluster"

MARKUP = [
    (re.compile(r"L\(([^)]+?),\s*([^)]+)\)"), r"[\1](\2)"),
    (re.compile(r"U\(([^)]+)\)"), r"<\1>"),
    (re.compile(r"I\(([^)]+)\)"), r"*\1*"),
    (re.compile(r"B\(([^)]+)\)"), r"**\1**"),
    (re.compile(r"\b(?:C|O|V|E|P|M|RV)\(([^)]*(?:\([^)]*\)[^)]*)*)\)"), r"`\1`"),
]


def text(value):
    """Ansible markup and YAML strings or lists of them, as one line of Markdown fit for a table cell."""
    if value is None:
        return ""
    parts = value if isinstance(value, list) else [value]
    out = []
    for part in parts:
        part = " ".join(str(part).split())
        for pattern, replacement in MARKUP:
            part = pattern.sub(replacement, part)
        out.append(part)
    return " ".join(out).replace("|", "\\|")


def default(option):
    if "default" not in option:
        return ""
    value = option["default"]
    if isinstance(value, str):
        return "`%s`" % value if value else '`""`'
    return "`%s`" % json.dumps(value, sort_keys=True).replace("|", "\\|")


def rows(options, prefix=""):
    for name in sorted(options or {}):
        option = options[name] or {}
        kind = option.get("type", "str")
        if kind == "list" and option.get("elements"):
            kind = "list of %s" % option["elements"]
        description = text(option.get("description"))
        if option.get("choices"):
            description += " Choices: %s." % ", ".join("`%s`" % choice for choice in option["choices"])
        if option.get("aliases"):
            description += " Aliases: %s." % ", ".join("`%s`" % alias for alias in option["aliases"])
        yield "| `%s%s` | %s | %s | %s | %s |" % (prefix, name, kind, "yes" if option.get("required") else "",
                                                  default(option), description.strip())
        child_prefix = "%s%s%s." % (prefix, name, "[]" if option.get("type") == "list" else "")
        yield from rows(option.get("options"), child_prefix)


def load_roles(root):
    roles = {}
    for role in sorted(os.listdir(os.path.join(root, "roles"))):
        path = os.path.join(root, "roles", role, "meta", "argument_specs.yml")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                roles[role] = (yaml.safe_load(handle) or {}).get("argument_specs") or {}
    return roles


def entry_points(specs):
    """main first, then the others in the order the file lists them."""
    return sorted(specs, key=lambda name: (name != "main", list(specs).index(name)))


def anchor(role, entry):
    return "%s-%s" % (role, entry.replace("_", "-"))


def render(root=REPO):
    roles = load_roles(root)
    lines = [
        "# Role reference",
        "",
        "<!-- Generated from roles/*/meta/argument_specs.yml by tools/generate_role_docs.py: do not edit by hand. -->",
        "Generated from each role's `meta/argument_specs.yml` (every entry point) by `tools/generate_role_docs.py`; a "
        "unit test fails when this page differs from the specs. After changing a spec, run `%s`." % COMMAND,
        "",
        "Call an entry point with `ansible.builtin.import_role` or `include_role`, `name: %s.ROLE` and, for an entry "
        "point other than `main`, `tasks_from: ENTRY`. Every role reads the plan `mhnet_cluster` that "
        "`%s.preflight` publishes, so `preflight` runs first in the same play run." % (NAMESPACE, NAMESPACE),
        "",
        "| role | entry points |",
        "|---|---|",
    ]
    for role, specs in roles.items():
        lines.append("| [`%s.%s`](#%s) | %s |" % (
            NAMESPACE, role, role, ", ".join("[`%s`](#%s)" % (entry, anchor(role, entry))
                                             for entry in entry_points(specs))))
    for role, specs in roles.items():
        lines += ["", '<a id="%s"></a>' % role, "", "## %s.%s" % (NAMESPACE, role)]
        for entry in entry_points(specs):
            spec = specs[entry] or {}
            call = "name: %s.%s" % (NAMESPACE, role) + ("" if entry == "main" else ", tasks_from: %s" % entry)
            lines += ["", '<a id="%s"></a>' % anchor(role, entry), "",
                      "### %s: %s" % (role, entry), "", "`%s`" % call, ""]
            if spec.get("short_description"):
                lines += ["**%s**" % text(spec["short_description"]), ""]
            description = spec.get("description")
            for paragraph in description if isinstance(description, list) else ([description] if description else []):
                lines += [text(paragraph), ""]
            table = list(rows(spec.get("options")))
            if table:
                lines += ["| variable | type | required | default | description |", "|---|---|---|---|---|"]
                lines += table
            else:
                lines.append("No variables of its own.")
    return "\n".join(lines).rstrip("\n") + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--root", default=REPO, help="the checkout to read (default: this one)")
    args = parser.parse_args()
    page = render(args.root)
    path = os.path.join(args.root, PAGE)
    if args.check:
        with open(path, encoding="utf-8") as handle:
            if handle.read() != page:
                print("%s differs from roles/*/meta/argument_specs.yml: run `%s` and commit it" % (PAGE, COMMAND),
                      file=sys.stderr)
                return 1
        return 0
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(page)
    print("wrote %s" % PAGE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
