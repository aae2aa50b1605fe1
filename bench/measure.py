"""One timed ansible-playbook run: wall time, controller memory, and what its output says.

Memory: the process tree of ansible-playbook (its workers and the `docker exec` clients of the docker
connection) is sampled from /proc every 0.2 s; the peak of the tree's summed PSS (proportional set size: pages
shared between forks counted once overall) and the largest single RSS are reported.
Output: task rounds are the TASK and RUNNING HANDLER headers (the linear strategy runs each header as one round
over the play's hosts); the PLAY RECAP gives changed/failed counts; ansible.posix.profile_tasks (enabled by the
driver) gives each task's time, from which the time spent in waiting tasks is summed.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time

HEADER = re.compile(r"^(TASK|RUNNING HANDLER) \[(?P<name>.*)\] \*+")
RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)"
)
PROFILE = re.compile(r"^(?P<name>.+?) -{3,} (?P<seconds>\d+\.\d+)s$")
RESULT = re.compile(r"^(ok|changed|failed|fatal|skipping|included):")
RETRY = "FAILED - RETRYING"
# Tasks whose job is to wait for something: their names say so ("Wait until ...").
WAITING = re.compile(r"\bwait", re.IGNORECASE)
PAGE = 4096


class TreeSampler(threading.Thread):
    """Peak memory of a process and all its descendants, sampled from /proc."""

    def __init__(self, pid, interval=0.2):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_pss = 0
        self.peak_rss = 0
        self.samples = 0
        self._halt = threading.Event()

    def stop(self):
        self._halt.set()
        self.join(timeout=5)

    def run(self):
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def sample(self):
        pss_total = 0
        for pid in self._tree():
            pss, rss = _memory(pid)
            pss_total += pss
            self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss_total)
        self.samples += 1

    def _tree(self):
        pending, seen = [self.pid], []
        while pending:
            pid = pending.pop()
            seen.append(pid)
            try:
                for task in os.listdir("/proc/%d/task" % pid):
                    with open("/proc/%d/task/%s/children" % (pid, task), encoding="ascii") as handle:
                        pending.extend(int(child) for child in handle.read().split())
            except OSError:
                continue
        return seen


def _memory(pid):
    """(PSS, RSS) in bytes of one process; (0, 0) when it is gone."""
    pss = rss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        try:
            with open("/proc/%d/statm" % pid, encoding="ascii") as handle:
                rss = int(handle.read().split()[1]) * PAGE
                pss = rss
        except (OSError, ValueError, IndexError):
            return 0, 0
    return pss, rss


def parse_output(text):
    """What an ansible-playbook output says: rounds, recap, retries, profile_tasks times."""
    rounds = 0
    ran = 0
    block_ran = None
    recap = {}
    profile = []
    in_recap = False
    for line in text.splitlines():
        if HEADER.match(line):
            if block_ran:
                ran += 1
            rounds += 1
            block_ran = False
            continue
        if line.startswith("PLAY RECAP"):
            in_recap = True
            if block_ran:
                ran += 1
            block_ran = None
            continue
        if block_ran is False:
            match = RESULT.match(line)
            if match and match.group(1) != "skipping":
                block_ran = True
        if in_recap:
            match = RECAP.match(line)
            if match:
                recap[match.group("host")] = {key: int(value) for key, value in match.groupdict().items() if key != "host"}
                continue
        match = PROFILE.match(line)
        if match and not line.startswith(("TASK", "PLAY")):
            profile.append((match.group("name").strip(), float(match.group("seconds"))))
    if block_ran:
        ran += 1
    totals = {key: sum(host[key] for host in recap.values()) for key in ("ok", "changed", "unreachable", "failed", "skipped")}
    waits = [(name, seconds) for name, seconds in profile if WAITING.search(name)]
    return {
        "task_rounds": rounds,
        "tasks_run": ran,
        "recap": totals,
        "changed": totals["changed"],
        "retries": text.count(RETRY),
        "wait_task_seconds": round(sum(seconds for dummy, seconds in waits), 2),
        "top_tasks": [{"task": name, "seconds": seconds} for name, seconds in sorted(profile, key=lambda item: -item[1])[:8]],
        "profiled_seconds": round(sum(seconds for dummy, seconds in profile), 2),
    }


def run_playbook(argv, log_path, env, cwd, timeout):
    """Run ansible-playbook ARGV; returns a dict of measures (ok False with an error when it failed)."""
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ %s\n" % " ".join(argv))
        log.flush()
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        sampler = TreeSampler(process.pid)
        sampler.start()
        chunks = []
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            for raw in process.stdout:
                line = raw.decode("utf-8", "replace")
                chunks.append(line)
                log.write(line)
            process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            timer.cancel()
            sampler.stop()
    seconds = time.monotonic() - started
    text = "".join(chunks)
    result = {"seconds": round(seconds, 3), "rc": process.returncode, "log": log_path}
    result.update(parse_output(text))
    result["peak_tree_pss_mib"] = round(sampler.peak_pss / 2**20, 1)
    result["peak_process_rss_mib"] = round(sampler.peak_rss / 2**20, 1)
    result["ok"] = process.returncode == 0 and result["recap"]["failed"] == 0 and result["recap"]["unreachable"] == 0
    if not result["ok"]:
        if seconds >= timeout:
            result["error"] = "killed after %d s" % timeout
        else:
            result["error"] = _failure(text)
    return result


def _failure(text):
    """The lines that say why a run failed (fatal/failed results and errors), shortened."""
    lines = text.splitlines()
    results = [line for line in lines if line.startswith(("fatal:", "failed:")) or "FAILED!" in line]
    errors = []
    for index, line in enumerate(lines):
        if line.startswith(("ERROR", "[ERROR]")):
            errors.extend(lines[index:index + 6])
    message = "\n".join(results + errors or lines[-15:])
    return message if len(message) <= 3000 else message[:3000] + "..."
