"""Check what ansible-runner left of a run of mhnet.cluster.site (run.sh): artifacts/<ident>/status is `successful`,
artifacts/<ident>/rc is 0, and the job events hold the page the probe fetched across hosts: an ok event of the
probe role's fetch (workload_container, delegated to the probe host) whose `fetched` has the expected text, and the ok
event of the task that shows it, naming the probe host and the URL; the playbook of the events is the installed
collection's playbooks/site.yml; and no result carries a deprecation warning (the newest core runs it: issue 15 wants
no deprecation there).

Usage: check_runner_artifacts.py ARTIFACT_DIR [EXPECTED_TEXT]. Exit 0 when every check holds; otherwise 1, with
every failed check on stderr. `--self-test ARTIFACT_DIR` also proves the check can fail: copies of the artifacts
without the page, of another playbook, with status failed, with rc 2 and with a deprecation must each be refused.
"""

import json
import os
import shutil
import sys
import tempfile

FETCH_TASK = "Keep the probe container on its host and fetch the page across the overlay"
SHOW_TASK = "Show the page fetched across hosts"
DEFAULT_EXPECTED = "Welcome to nginx!"
SITE_PLAYBOOK = "/ansible_collections/mhnet/cluster/playbooks/site.yml"


def read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as exc:
        return f"<unreadable: {exc}>"


def events(artifact_dir):
    directory = os.path.join(artifact_dir, "job_events")
    if not os.path.isdir(directory):
        return
    for name in sorted(os.listdir(directory)):
        if name.endswith(".json"):
            with open(os.path.join(directory, name), encoding="utf-8") as handle:
                yield json.load(handle)


def problems(artifact_dir, expected=DEFAULT_EXPECTED):
    found = []
    status = read(os.path.join(artifact_dir, "status"))
    if status != "successful":
        found.append(f"status is {status!r}, not 'successful'")
    rc = read(os.path.join(artifact_dir, "rc"))
    if rc != "0":
        found.append(f"rc is {rc!r}, not 0")

    all_events = list(events(artifact_dir))
    if not all_events:
        found.append(f"no job events in {os.path.join(artifact_dir, 'job_events')}")
    fetched = shown = None
    playbooks = {event.get("event_data", {}).get("playbook") for event in all_events} - {None}
    if all_events and not any(playbook.endswith(SITE_PLAYBOOK) for playbook in playbooks):
        found.append(f"the events are of {sorted(playbooks)}, not of mhnet.cluster's installed {SITE_PLAYBOOK}")
    for event in all_events:
        if event.get("event") != "runner_on_ok":
            continue
        data = event.get("event_data", {})
        result = data.get("res", {})
        delegated = result.get("_ansible_delegated_vars", {}).get("ansible_delegated_host")
        if data.get("task") == FETCH_TASK and delegated and expected in str(result.get("fetched", "")):
            fetched = data
        if data.get("task") == SHOW_TASK and expected in json.dumps(result.get("msg", "")):
            shown = result.get("msg")
    if fetched is None:
        found.append(f"no ok event of {FETCH_TASK!r}, delegated to the probe host, whose fetched page holds {expected!r}")
    if shown is None:
        found.append(f"no ok event of {SHOW_TASK!r} whose message holds {expected!r}")
    elif not (isinstance(shown, list) and shown and " fetched http://" in str(shown[0])):
        found.append(f"{SHOW_TASK!r} does not say which host fetched which URL: {str(shown)[:200]}")
    deprecations = sorted({item.get("msg", "") for event in all_events
                           for item in event.get("event_data", {}).get("res", {}).get("deprecations", []) or []})
    if deprecations:
        found.append(f"{len(deprecations)} distinct deprecation warning(s) in the results: {'; '.join(deprecations)[:400]}")
    return found, fetched, shown


def check(artifact_dir, expected=DEFAULT_EXPECTED):
    found, fetched, shown = problems(artifact_dir, expected)
    if found:
        for problem in found:
            print(f"ansible-runner artifacts {artifact_dir}: {problem}", file=sys.stderr)
        return 1
    print(f"ansible-runner: status {read(os.path.join(artifact_dir, 'status'))}, rc {read(os.path.join(artifact_dir, 'rc'))}")
    delegated = fetched["res"]["_ansible_delegated_vars"]["ansible_delegated_host"]
    print(f"ansible-runner: {len(list(events(artifact_dir)))} job events; the page fetched on {delegated}: {shown[0]} "
          f"{[line for line in shown if DEFAULT_EXPECTED in line] or shown[1:2]}")
    print("ansible-runner: no deprecation warning in the results")
    return 0


def self_test(artifact_dir, expected=DEFAULT_EXPECTED):
    """The check must refuse artifacts without the page, of another playbook, with another status or rc, or with a
    deprecation."""
    failures = []

    def mutated(name, mutate):
        with tempfile.TemporaryDirectory() as scratch:
            copy = os.path.join(scratch, "artifacts")
            shutil.copytree(artifact_dir, copy)
            mutate(copy)
            if not problems(copy, expected)[0]:
                failures.append(name)

    def drop_page(copy):
        directory = os.path.join(copy, "job_events")
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            if expected in text:
                os.remove(path)

    def write(name, text):
        def mutate(copy):
            with open(os.path.join(copy, name), "w", encoding="utf-8") as handle:
                handle.write(text)
        return mutate

    def other_playbook(copy):
        directory = os.path.join(copy, "job_events")
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            with open(path, encoding="utf-8") as handle:
                event = json.load(handle)
            if "playbook" in event.get("event_data", {}):
                event["event_data"]["playbook"] = "/elsewhere/site.yml"
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(event, handle)

    def deprecate(copy):
        directory = os.path.join(copy, "job_events")
        name = sorted(os.listdir(directory))[-1]
        path = os.path.join(directory, name)
        with open(path, encoding="utf-8") as handle:
            event = json.load(handle)
        event.setdefault("event_data", {}).setdefault("res", {})["deprecations"] = [{"msg": "a feature goes away"}]
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(event, handle)

    mutated("events without the page", drop_page)
    mutated("events of another playbook", other_playbook)
    mutated("status failed", write("status", "failed"))
    mutated("rc 2", write("rc", "2"))
    mutated("a deprecation", deprecate)
    if failures:
        print(f"ansible-runner check accepts what it must refuse: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("ansible-runner check: refuses artifacts without the page, of another playbook, with status failed, with rc 2, "
          "with a deprecation")
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "--self-test":
        return self_test(*argv[1:3])
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    return check(*argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
