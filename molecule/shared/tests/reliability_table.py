"""The reliability table of issue 9: one row per fault or refusal test (case, expected, observed, nothing-changed).

A test takes the `reliability` fixture (its row) and may set `expected`, `observed` and `unchanged` (yes | no | n.a.)
on it; the outcome comes from pytest's report, so a failed test shows FAILED and its error however far it got. At the
end of the session the rows are printed (pytest_terminal_summary) and written to
.cache/reliability/<scenario>.json under the project; `make reliability` prints every scenario's rows together:

    python molecule/shared/tests/reliability_table.py [--markdown] .cache/reliability/*.json

The shared conftest imports the fixture and hooks from here, so every scenario that links it records rows.
"""

import json
import os
import re
import sys

import pytest

COLUMNS = ("scenario", "case", "expected", "observed", "nothing changed")
WIDTHS = (11, 36, 36, 50, 9)


class Row:
    """One test's row."""

    def __init__(self, case, expected=""):
        self.case = case
        self.expected = expected
        self.observed = ""
        self.unchanged = "n.a."
        self.failure = ""
        self.outcome = "not run"
        self.last_run = ""

    def as_dict(self, scenario):
        observed = self.observed or self.last_run or "as expected"
        if self.failure:
            observed = "FAILED: %s%s" % (self.failure, " (after: %s)" % self.observed if self.observed else "")
        return dict(scenario=scenario, case=self.case, expected=self.expected, observed=observed,
                    unchanged=self.unchanged, outcome=self.outcome)


_ROWS = []
_CURRENT = []  # the row of the test running now, for note_run


def scenario_name():
    return os.environ.get("MOLECULE_SCENARIO_NAME") or os.path.basename(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", "tests"))


def table_path():
    project = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.getcwd())
    return os.path.join(project, ".cache", "reliability", scenario_name() + ".json")


def pytest_configure(config):
    config.addinivalue_line("markers", "reliability(expected): what the reliability table expects of this test")


@pytest.fixture()
def reliability(request):
    """This test's row of the reliability table; the case is the test's name, expected its reliability marker's.
    Observed is what the test sets, else its last site.yml run (run_site calls note_run), else "as expected"."""
    marker = request.node.get_closest_marker("reliability")
    name = request.node.name
    # One row per parameter set: the case names its id ("a bad input is refused ... (store port 0)").
    match = re.match(r"^(?:test_)?(.*?)(?:\[(.*)\])?$", name)
    case = match.group(1).replace("_", " ") + (" (%s)" % match.group(2) if match.group(2) else "")
    row = Row(case, marker.args[0] if marker and marker.args else "")
    request.node.reliability_row = row
    _ROWS.append(row)
    _CURRENT.append(row)
    yield row
    _CURRENT.remove(row)


def note_run(args, rc, output):
    """Called by run_site: the running test's row observes its last site.yml run, unless the test says more."""
    if _CURRENT:
        _CURRENT[-1].last_run = summarize(rc, output, check_mode="--check" in args)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    row = getattr(item, "reliability_row", None)
    if row is None:
        return
    if report.failed:
        message = str(call.excinfo.value) if call.excinfo else report.longreprtext
        first = next((line.strip() for line in message.splitlines() if line.strip()), "error")
        row.failure = (first[:160] + ("..." if len(first) > 160 else "")) + ("" if report.when == "call" else " [%s]" % report.when)
        row.outcome = "failed"
    elif report.when == "call" and row.outcome == "not run":
        row.outcome = "skipped" if report.skipped else "passed"


def summarize(rc, output, check_mode=False):
    """A short observation of a site.yml run: its exit code and the changed counts, or the first failure's message."""
    changed = dict((match.group(1), int(match.group(2))) for match in
                   re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.MULTILINE))
    if rc == 0:
        return "rc=0, %d task(s) %s" % (sum(changed.values()), "would change (check mode)" if check_mode else "changed")
    for line in output.splitlines():
        failure = re.match(r"^(?:fatal|failed): \[([^\]]+)\](?:: FAILED!| \(item=.*?\))? => (\{.*\})\s*$", line)
        if failure:
            host = failure.group(1)
            try:
                message = json.loads(failure.group(2)).get("msg", "")
            except ValueError:
                message = failure.group(2)
            message = " ".join(str(message).split())
            return "rc=%d, %s: %s" % (rc, host, message[:200] + ("..." if len(message) > 200 else ""))
    return "rc=%d" % rc


def changed_tasks(output):
    """'task on host' for every task that reported changed in a run's output (the default callback's lines)."""
    task, changed = None, set()
    for line in output.splitlines():
        banner = re.match(r"^TASK \[(.*)\] \*+", line)
        if banner:
            task = banner.group(1)
            continue
        result = re.match(r"^changed: \[([^\]]+)\]", line)
        if result and task:
            changed.add("%s on %s" % (task, result.group(1)))
    return sorted(changed)


def wrap(text, width):
    words, lines, line = str(text).split(), [], ""
    for word in words:
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = (line + " " + word).strip()
    return lines + [line] if line or not lines else lines


def format_table(rows):
    """The rows as a plain-text table, each cell wrapped to its column."""
    rule = "+" + "+".join("-" * (width + 2) for width in WIDTHS) + "+"
    header = dict(zip(("scenario", "case", "expected", "observed", "unchanged"), COLUMNS))
    out = [rule]
    for row in [header] + list(rows):
        cells = [wrap(row[key], width) for key, width in
                 zip(("scenario", "case", "expected", "observed", "unchanged"), WIDTHS)]
        for index in range(max(len(cell) for cell in cells)):
            out.append("| " + " | ".join((cell[index] if index < len(cell) else "").ljust(width)
                                         for cell, width in zip(cells, WIDTHS)) + " |")
        out.append(rule)
    failed = sum(1 for row in rows if row["outcome"] != "passed")
    out.append("%d case(s), %d passed, %d not passed" % (len(rows), len(rows) - failed, failed))
    return "\n".join(out)


def pytest_terminal_summary(terminalreporter):
    if not _ROWS:
        return
    scenario = scenario_name()
    rows = [row.as_dict(scenario) for row in _ROWS]
    path = table_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as table:
        json.dump(rows, table, indent=1)
    terminalreporter.section("reliability table (%s)" % scenario)
    for line in format_table(rows).splitlines():
        terminalreporter.write_line(line)
    terminalreporter.write_line("written to %s" % path)


def format_markdown(rows):
    """The rows as a Markdown table (for the README)."""
    out = ["| scenario | case | expected | observed | nothing changed |", "|---|---|---|---|---|"]
    for row in rows:
        out.append("| " + " | ".join(str(row[key]).replace("|", "\\|") for key in
                                     ("scenario", "case", "expected", "observed", "unchanged")) + " |")
    return "\n".join(out)


def main(paths):
    markdown = "--markdown" in paths
    paths = [path for path in paths if path != "--markdown"]
    rows = []
    for path in paths:
        with open(path) as table:
            rows.extend(json.load(table))
    if not rows:
        print("no reliability rows in: %s" % " ".join(paths))
        return 1
    print(format_markdown(rows) if markdown else format_table(rows))
    return 0 if all(row["outcome"] == "passed" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
