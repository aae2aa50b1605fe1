"""The performance benchmark of issue 8: the collection against a hand-written floor and a plain peer playbook.

Brings up its own lab (lab_name mhnet-bench, subnets 192.168.180.0/24 and 192.168.181.0/24, apart from `make
lab-up` and molecule), measures, removes its lab (also on failure or interrupt) and writes
bench/results/<timestamp>.json; prints a table. Ratios are taken within one run: absolute times drift here.

  P1  site.yml converge on blank hosts / the floor (hand script of the same steps), kv and swarm mode
  P2  the next site.yml run (expected: 0 changed) / the converge
  P3  converge on 12 hosts / on 3 hosts, swarm mode
  P4  iperf3 over my-net / over the cluster network between two engines, and the DF check
  Peers  `site.yml --skip-tags images,stack` / a plain community.docker playbook (bench/peer/site.yml), converge and
      re-run, swarm mode

Blank hosts: before every timed run each host goes back to blank with its images loaded (--blank reset: engine
state wiped and /etc/docker restored, a few seconds; --blank recreate: the lab hosts recreated and the images
loaded again, slower). The images are loaded once per lab by the collection's images role (`site.yml --tags
images`), untimed, so the floor and the collection start from the same state.

Run it alone on the machine (it times things): `make bench`, or `.venv/bin/python bench/run.py --quick`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback

import floor
import hosts as lab_hosts
import measure
import p4

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
LAB_NAME = "mhnet-bench"
LAB_NETWORKS = [
    {"name": "management", "subnet": "192.168.180.0/24"},
    {"name": "cluster", "subnet": "192.168.181.0/24"},
]
HOST_MEMORY_MIB = 400  # a lab host (systemd, dockerd, a few containers) takes about 370 MiB
GOALS = {"P1": ("<=", 1.5), "P2": ("<=", 0.3), "P3": ("<=", 1.6), "P4": (">=", 0.9), "Peer": ("<", 1.0)}


def kv_hosts():
    return [
        {"name": "mh-keystore", "generation": "bullseye", "groups": ["keystore"]},
        {"name": "mhs-demo0", "generation": "bullseye", "groups": ["docker_hosts"]},
        {"name": "mhs-demo1", "generation": "bullseye", "groups": ["docker_hosts"]},
    ]


def swarm_hosts(count):
    return [{"name": "mhs-demo%d" % index, "generation": "trixie", "groups": ["docker_hosts"]} for index in range(count)]


# Inventory variables the benchmark adds next to the lab's inventory, per mode.
MODE_VARS = {
    "kv": {},
    "swarm": {
        "mhnet_cluster_mode": "swarm",
        # The swarm scenario's network: my-net with the MTU derived from the cluster interfaces.
        "overlay_networks": [{"name": "my-net", "ipam_config": [{"subnet": "10.0.9.0/24"}], "mtu": "auto"}],
    },
}


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: like Ctrl-C, it stops every phase (and the lab still goes)."""


def _on_signal(signum, dummy_frame):
    raise Interrupted("stopped by signal %d" % signum)


def log(message):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args):
        self.args = args
        self.stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        self.work = os.path.abspath(args.work_dir or os.path.join(ROOT, ".cache", "bench", self.stamp))
        os.makedirs(self.work, exist_ok=True)
        self.playbook_bin = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or "ansible-playbook"
        self.deadline = time.monotonic() + args.max_minutes * 60
        self.runs = []
        self.p4 = []
        self.setup = []
        self.errors = []
        self.notes = []
        self.lab_vars = None
        self.iperf3 = None
        self.count = 0

    # --- ansible-playbook -------------------------------------------------------------------------------------
    def env(self, profile):
        env = dict(os.environ)
        env.update({
            "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
            # The lab role is the project's (lab/roles/lab), found the way molecule finds it.
            "ANSIBLE_ROLES_PATH": os.pathsep.join([os.path.join(ROOT, "roles"), os.path.join(ROOT, "lab", "roles")]),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        })
        if profile:
            env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
            env["PROFILE_TASKS_TASK_OUTPUT_LIMIT"] = "all"
        return env

    def playbook(self, name, args, timeout=None, profile=True):
        self.count += 1
        log_path = os.path.join(self.work, "%03d-%s.log" % (self.count, name.replace("/", "-")))
        argv = [self.playbook_bin] + args
        return measure.run_playbook(argv, log_path, self.env(profile), ROOT, timeout or self.args.playbook_timeout)

    # --- the lab ------------------------------------------------------------------------------------------------
    def lab_up(self, phase, hosts_spec, iperf3=False):
        inventory_dir = os.path.join(self.work, phase, "inventory")
        os.makedirs(inventory_dir, exist_ok=True)
        self.lab_vars = os.path.join(self.work, phase, "lab-vars.json")
        variables = {
            "lab_name": LAB_NAME,
            "lab_networks": LAB_NETWORKS,
            "lab_hosts": hosts_spec,
            "lab_inventory_path": os.path.join(inventory_dir, "lab.yml"),
        }
        if iperf3:
            variables["bench_iperf3_record"] = os.path.join(self.work, "iperf3.json")
        with open(self.lab_vars, "w", encoding="utf-8") as handle:
            json.dump(variables, handle, indent=2)
        log("%s: bringing up %d lab hosts" % (phase, len(hosts_spec)))
        result = self.playbook("%s-lab-up" % phase, [os.path.join(BENCH, "lab_up.yml"), "-e", "@" + self.lab_vars],
                               profile=False)
        self.setup.append({"step": "%s lab up (%d hosts)" % (phase, len(hosts_spec)), "seconds": result["seconds"], "ok": result["ok"]})
        if not result["ok"]:
            raise lab_hosts.BenchError("lab up failed (%s): %s" % (result["log"], result.get("error")))
        if iperf3:
            with open(variables["bench_iperf3_record"], encoding="utf-8") as handle:
                self.iperf3 = json.load(handle)
        return inventory_dir

    def lab_down(self):
        if not self.lab_vars:
            # Nothing of this run yet; a lab left by an earlier run goes (found by its label).
            self.lab_vars = os.path.join(self.work, "lab-vars-cleanup.json")
            with open(self.lab_vars, "w", encoding="utf-8") as handle:
                json.dump({"lab_name": LAB_NAME, "lab_inventory_path": os.path.join(self.work, "none.yml")}, handle)
        result = self.playbook("lab-down", [os.path.join(BENCH, "lab_down.yml"), "-e", "@" + self.lab_vars], profile=False)
        if not result["ok"]:
            self.errors.append("lab down failed (%s): %s" % (result["log"], result.get("error")))
        self.lab_vars = None

    def inventory(self, inventory_dir, mode):
        with open(os.path.join(inventory_dir, "bench.yml"), "w", encoding="utf-8") as handle:
            json.dump({"all": {"vars": MODE_VARS[mode]}}, handle, indent=2)
        return lab_hosts.Lab(os.path.join(inventory_dir, "lab.yml"), LAB_NAME)

    def load_images(self, phase, inventory_dir, lab):
        """The images onto the hosts with the collection's images role, untimed; by `docker load` if that fails."""
        lab_hosts.snapshot(lab)
        result = self.playbook("%s-images" % phase, ["-i", inventory_dir, os.path.join(ROOT, "site.yml"), "--tags", "images"],
                               profile=False)
        self.setup.append({"step": "%s images role (site.yml --tags images)" % phase, "seconds": result["seconds"], "ok": result["ok"]})
        if not result["ok"]:
            self.errors.append("%s: `site.yml --tags images` failed (%s); images loaded with `docker load` instead: %s"
                               % (phase, result["log"], result.get("error")))
            for image in lab.images_list:
                targets = [host for host in lab.hosts if not image.get("groups") or set(image["groups"]) & set(host.groups)]
                lab_hosts.load_archive(targets, image["archive"])
        if self.iperf3 and phase == "swarm" and lab.engines:
            lab_hosts.load_archive([lab.engines[0], lab.engines[-1]], self.iperf3["archive"])

    def blank(self, phase, hosts_spec, inventory_dir, lab):
        """Back to blank hosts with their images loaded; returns the lab (recreated hosts have new addresses)."""
        if self.args.blank == "reset":
            seconds = lab_hosts.reset(lab)
            self.setup.append({"step": "%s reset" % phase, "seconds": round(seconds, 2), "ok": True})
            return lab
        self.lab_down()
        inventory_dir = self.lab_up(phase, hosts_spec, iperf3=phase == "swarm")
        lab = self.inventory(inventory_dir, phase.rstrip("0123456789"))
        self.load_images(phase, inventory_dir, lab)
        return lab

    # --- measures -----------------------------------------------------------------------------------------------
    def record(self, mode, kind, round_index, result):
        result = dict(result, mode=mode, kind=kind, round=round_index)
        self.runs.append(result)
        extra = ""
        if "changed" in result:
            extra = ", %d changed, %d task rounds" % (result["changed"], result["task_rounds"])
        log("%s %s round %d: %s%s" % (mode, kind, round_index, "%.1f s" % result["seconds"] if result.get("ok") else
                                      "FAILED (%s)" % (result.get("error") or "").splitlines()[0:1], extra))
        return result

    def time_floor(self, mode, round_index, lab):
        started = time.monotonic()
        try:
            result = (floor.kv if mode == "kv" else floor.swarm)(lab)
            result["ok"] = True
        except lab_hosts.BenchError as exc:
            result = {"ok": False, "error": str(exc), "seconds": round(time.monotonic() - started, 3)}
        return self.record(mode, "floor", round_index, result)

    def time_playbook(self, mode, kind, round_index, args):
        result = self.playbook("%s-%s-r%d" % (mode, kind, round_index), args)
        return self.record(mode, kind, round_index, result)

    def site_args(self, inventory_dir, extra=()):
        return ["-i", inventory_dir, os.path.join(ROOT, "site.yml")] + list(extra)

    def out_of_time(self):
        if time.monotonic() > self.deadline:
            self.notes.append("stopped starting rounds after --max-minutes %d" % self.args.max_minutes)
            return True
        return False

    def phase_kv(self):
        spec = kv_hosts()
        inventory_dir = self.lab_up("kv", spec)
        lab = self.inventory(inventory_dir, "kv")
        self.load_images("kv", inventory_dir, lab)
        for index in range(1, self.args.rounds + 1):
            if self.out_of_time():
                break
            jobs = ["floor", "site"] if index % 2 else ["site", "floor"]
            for job in jobs:
                lab = self.blank("kv", spec, inventory_dir, lab)
                if job == "floor":
                    self.time_floor("kv", index, lab)
                else:
                    converge = self.time_playbook("kv", "site-converge", index, self.site_args(inventory_dir))
                    if converge["ok"]:
                        self.time_playbook("kv", "site-rerun", index, self.site_args(inventory_dir))

    def phase_swarm(self):
        spec = swarm_hosts(3)
        inventory_dir = self.lab_up("swarm", spec, iperf3=not self.args.skip_p4)
        lab = self.inventory(inventory_dir, "swarm")
        self.load_images("swarm", inventory_dir, lab)
        lite = ["--skip-tags", "images,stack"]
        peer = ["-i", inventory_dir, os.path.join(BENCH, "peer", "site.yml")]
        for index in range(1, self.args.rounds + 1):
            if self.out_of_time():
                break
            jobs = ["floor", "site", "peer", "lite"]
            if not self.args.peers:
                jobs = jobs[:2]
            shift = (index - 1) % len(jobs)
            for job in jobs[shift:] + jobs[:shift]:
                lab = self.blank("swarm", spec, inventory_dir, lab)
                if job == "floor":
                    self.time_floor("swarm", index, lab)
                elif job == "site":
                    converge = self.time_playbook("swarm", "site-converge", index, self.site_args(inventory_dir))
                    if converge["ok"]:
                        self.time_playbook("swarm", "site-rerun", index, self.site_args(inventory_dir))
                        if not self.args.skip_p4:
                            self.time_p4(index, lab)
                elif job == "peer":
                    if self.time_playbook("swarm", "peer-converge", index, peer)["ok"]:
                        self.time_playbook("swarm", "peer-rerun", index, peer)
                else:
                    if self.time_playbook("swarm", "site-lite-converge", index, self.site_args(inventory_dir, lite))["ok"]:
                        self.time_playbook("swarm", "site-lite-rerun", index, self.site_args(inventory_dir, lite))

    def time_p4(self, index, lab):
        try:
            result = p4.measure(lab.engines[0], lab.engines[-1], self.iperf3["image"], self.args.iperf_seconds)
            result["ok"] = True
            log("P4 round %d: %s" % (index, p4_line(result)))
        except (lab_hosts.BenchError, ValueError, KeyError) as exc:
            result = {"ok": False, "error": str(exc)}
            log("P4 round %d FAILED: %s" % (index, exc))
        result["round"] = index
        self.p4.append(result)

    def phase_p3(self):
        count = self.args.p3_hosts
        available = _meminfo().get("MemAvailable", 0) // 1024
        needed = count * HOST_MEMORY_MIB + 1024
        if available < needed:
            self.notes.append("P3 skipped: %d MiB available, %d hosts need about %d MiB" % (available, count, needed))
            log(self.notes[-1])
            return
        spec = swarm_hosts(count)
        phase = "swarm%d" % count
        inventory_dir = self.lab_up(phase, spec)
        lab = self.inventory(inventory_dir, "swarm")
        self.load_images(phase, inventory_dir, lab)
        for index in range(1, self.args.rounds + 1):
            if self.out_of_time():
                break
            lab = self.blank(phase, spec, inventory_dir, lab)
            converge = self.time_playbook(phase, "site-converge", index, self.site_args(inventory_dir))
            if converge["ok"] and self.args.p3_rerun:
                self.time_playbook(phase, "site-rerun", index, self.site_args(inventory_dir))

    def run(self):
        phases = []
        if "kv" in self.args.modes:
            phases.append(("kv", self.phase_kv))
        if "swarm" in self.args.modes:
            phases.append(("swarm", self.phase_swarm))
            if not self.args.skip_p3:
                phases.append(("P3", self.phase_p3))
        try:
            self.lab_down()  # a lab left by an interrupted run
            for number, (name, phase) in enumerate(phases, 1):
                try:
                    phase()
                    if number < len(phases) or not self.args.keep_lab:
                        self.lab_down()
                except lab_hosts.BenchError as exc:
                    self.errors.append("%s phase stopped: %s" % (name, exc))
                    log(self.errors[-1])
                    self.lab_down()
                except Exception as exc:  # pylint: disable=broad-exception-caught  # a bug here must not leave the lab up
                    self.errors.append("%s phase stopped by an error of the benchmark: %s" % (name, traceback.format_exc()))
                    log("%s phase stopped: %r" % (name, exc))
                    self.lab_down()
        finally:
            if self.args.keep_lab:
                log("--keep-lab: the last lab stays up (%s)" % self.lab_vars)
            elif self.lab_vars:
                self.lab_down()


# --- the report -------------------------------------------------------------------------------------------------
def _stats(values):
    values = [value for value in values if value is not None]
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "n": len(values)}


def _by_round(runs, mode, kind):
    return {run["round"]: run for run in runs if run["mode"] == mode and run["kind"] == kind and run.get("ok")}


def _ratios(numerators, denominators):
    return [numerators[index]["seconds"] / denominators[index]["seconds"] for index in sorted(numerators) if index in denominators]


def summarize(bench):
    runs = bench.runs
    summary = {}

    def goal(key, name, values, what):
        relation, target = GOALS[key]
        stats = _stats(values)
        if stats:
            value = stats["median"]
            stats["met"] = {"<=": value <= target, ">=": value >= target, "<": value < target}[relation]
        summary[name] = {"what": what, "goal": "%s %s" % (relation, target), "ratio": stats}

    modes = sorted({run["mode"] for run in runs})
    for mode in ("kv", "swarm"):
        if mode not in modes:
            continue
        goal("P1", "P1 %s" % mode, _ratios(_by_round(runs, mode, "site-converge"), _by_round(runs, mode, "floor")),
             "site.yml converge / floor (%s)" % mode)
        goal("P2", "P2 %s" % mode, _ratios(_by_round(runs, mode, "site-rerun"), _by_round(runs, mode, "site-converge")),
             "site.yml next run / converge (%s)" % mode)
    big = [mode for mode in modes if mode.startswith("swarm") and mode != "swarm"]
    for mode in big:
        goal("P3", "P3", _ratios(_by_round(runs, mode, "site-converge"), _by_round(runs, "swarm", "site-converge")),
             "converge on %s hosts / on 3 hosts (swarm)" % mode[len("swarm"):])
    if bench.p4:
        good = [item for item in bench.p4 if item.get("ok")]
        goal("P4", "P4", [item["ratio"] for item in good], "iperf3 over my-net / over the cluster network")
        summary["P4"]["df_check"] = bool(good) and all(item["df_ok"] for item in good)
        summary["P4"]["mtu_full"] = bool(good) and all(item.get("mtu_full") for item in good)
        summary["P4"]["mtu"] = sorted({"set %s, container eth0 %s, underlay %s" % (
            item["mtu_set"], item["mtu_container"], item["mtu_underlay"]) for item in good})
    if _by_round(runs, "swarm", "peer-converge"):
        goal("Peer", "Peer converge", _ratios(_by_round(runs, "swarm", "site-lite-converge"), _by_round(runs, "swarm", "peer-converge")),
             "site.yml --skip-tags images,stack converge / peer playbook converge")
        goal("Peer", "Peer re-run", _ratios(_by_round(runs, "swarm", "site-lite-rerun"), _by_round(runs, "swarm", "peer-rerun")),
             "site.yml --skip-tags images,stack re-run / peer playbook re-run")

    times = []
    for mode in modes:
        for kind in ("floor", "site-converge", "site-rerun", "peer-converge", "peer-rerun", "site-lite-converge", "site-lite-rerun"):
            picked = [run for run in runs if run["mode"] == mode and run["kind"] == kind]
            if not picked:
                continue
            good = [run for run in picked if run.get("ok")]
            row = {"mode": mode, "kind": kind, "runs": len(picked), "failed": len(picked) - len(good),
                   "seconds": _stats([run["seconds"] for run in good])}
            for key in ("changed", "task_rounds", "tasks_run", "retries", "wait_task_seconds", "peak_tree_pss_mib", "peak_process_rss_mib"):
                values = [run[key] for run in good if key in run]
                if values:
                    row[key] = _stats(values)
            times.append(row)
    return summary, times


def _fmt(stats, digits=2):
    if not stats:
        return "-"
    return "/".join(("%." + str(digits) + "f") % stats[key] for key in ("min", "median", "max"))


def table(summary, times, bench):
    lines = ["", "mhnet.cluster benchmark (issue 8): min/median/max over rounds; goals judged on the median", ""]
    lines.append("%-14s %-20s %-8s %-5s %s" % ("measure", "ratio min/med/max", "goal", "met", "what"))
    for name, item in summary.items():
        ratio = item["ratio"]
        met = "-" if not ratio else ("yes" if ratio["met"] else "no")
        what = item["what"]
        if name == "P4" and ratio:
            what += "; DF check at the containers' MTU: %s" % ("ok" if item["df_check"] else "FAILED")
        lines.append("%-14s %-20s %-8s %-5s %s" % (name, _fmt(ratio), item["goal"], met, what))
    lines.append("")
    lines.append("%-8s %-29s %-20s %-8s %-7s %-5s %-8s %-8s %s" % (
        "mode", "run", "seconds min/med/max", "changed", "rounds", "ran", "retries", "waits s", "peak MiB (tree PSS)"))
    for row in times:
        def median(key, digits=0):
            stats = row.get(key)
            return "-" if not stats else ("%." + str(digits) + "f") % stats["median"]
        lines.append("%-8s %-29s %-20s %-8s %-7s %-5s %-8s %-8s %s" % (
            row["mode"], row["kind"] + (" (%d failed)" % row["failed"] if row["failed"] else ""),
            _fmt(row["seconds"], 1), median("changed"), median("task_rounds"), median("tasks_run"), median("retries"),
            median("wait_task_seconds", 1), median("peak_tree_pss_mib")))
    lines.append("(changed, rounds = TASK/HANDLER headers, ran = headers with a non-skipped result, retries, waits = "
                 "profile_tasks seconds of 'Wait ...' tasks, memory: medians)")
    if bench.p4:
        lines.append("")
        for item in bench.p4:
            if item.get("ok"):
                lines.append("P4 round %d: %s" % (item["round"], p4_line(item)))
            else:
                lines.append("P4 round %d failed: %s" % (item["round"], item.get("error")))
    for note in bench.notes:
        lines.append("note: " + note)
    for error in bench.errors:
        lines.append("error: " + error.splitlines()[0] if error else "error")
    failed = [run for run in bench.runs if not run.get("ok")]
    for run in failed:
        lines.append("failed: %s %s round %d: %s" % (run["mode"], run["kind"], run["round"],
                                                     (run.get("error") or "").splitlines()[0][:400]))
    return "\n".join(lines)


def p4_line(item):
    """One P4 round in words."""
    checks = []
    for check in item["df_checks"]:
        checks.append("DF at MTU %d %s (%d-byte payload %s, %s; %d %s)" % (
            check["mtu"], "ok" if check["ok"] else "FAILED", check["mtu"] - 28,
            "crossed" if check["full_size_crosses"] else "did not cross",
            ("unfragmented" if check["full_size_unfragmented"] else "fragment counters moved") if check["full_size_crosses"]
            else " ".join(check["ping_output"]["mtu-28"]).strip(),
            check["mtu"] - 27, "refused" if check["one_byte_more_refused"] else "CROSSED"))
    return "overlay %.2f Gbit/s, underlay %.2f Gbit/s, ratio %.2f; my-net MTU set %s, container eth0 %d, underlay %d; %s" % (
        item["overlay_bits_per_second"] / 1e9, item["underlay_bits_per_second"] / 1e9, item["ratio"],
        item["mtu_set"], item["mtu_container"], item["mtu_underlay"], "; ".join(checks))


# --- the machine ------------------------------------------------------------------------------------------------
def _meminfo():
    values = {}
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            key, value = line.split(":", 1)
            values[key] = int(value.split()[0])
    return values


def _command(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def describe_machine():
    cpu = ""
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    docker = {}
    try:
        docker = json.loads(_command(["docker", "version", "--format", "{{json .}}"]) or "{}")
    except ValueError:
        pass
    try:
        from ansible.release import __version__ as ansible_core
    except ImportError:
        ansible_core = _command(["ansible", "--version"]).split("\n")[0]
    community_docker = ""
    try:
        import ansible_collections.community.docker as community  # pylint: disable=import-outside-toplevel
        with open(os.path.join(list(community.__path__)[0], "MANIFEST.json"), encoding="utf-8") as handle:
            community_docker = json.load(handle)["collection_info"]["version"]
    except (ImportError, OSError, KeyError, ValueError):
        pass
    meminfo = _meminfo()
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "memory_mib": meminfo["MemTotal"] // 1024,
        "memory_available_mib_at_start": meminfo.get("MemAvailable", 0) // 1024,
        "load_average_at_start": list(os.getloadavg()),
        "kernel": platform.release(),
        "os": _command(["sh", "-c", ". /etc/os-release && echo \"$PRETTY_NAME\""]),
        "docker_server": (docker.get("Server") or {}).get("Version"),
        "docker_client": (docker.get("Client") or {}).get("Version"),
        "python": platform.python_version(),
        "ansible_core": ansible_core,
        "community_docker": community_docker,
        "lab_engines": {"bullseye": "20.10.5 (kv mode)", "trixie": "26.1.5 (swarm mode)"},
        "git_commit": _command(["git", "-C", ROOT, "rev-parse", "HEAD"]),
        "git_dirty": bool(_command(["git", "-C", ROOT, "status", "--porcelain"])),
    }


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each measure (default 3)")
    parser.add_argument("--quick", action="store_true", help="development: 1 round, no P3")
    parser.add_argument("--modes", default="kv,swarm", help="comma-separated: kv, swarm (default both)")
    parser.add_argument("--skip-p3", action="store_true", help="no 12-host converge")
    parser.add_argument("--p3-hosts", type=int, default=12, help="hosts of P3 (default 12)")
    parser.add_argument("--p3-rerun", action="store_true", help="also time the next run on the P3 hosts")
    parser.add_argument("--skip-p4", action="store_true", help="no iperf3 / DF check")
    parser.add_argument("--no-peers", dest="peers", action="store_false", help="no peer playbook comparison")
    parser.add_argument("--iperf-seconds", type=int, default=5, help="length of each iperf3 run (default 5)")
    parser.add_argument("--blank", choices=["reset", "recreate"], default="reset",
                        help="how hosts go back to blank between runs (default reset)")
    parser.add_argument("--playbook-timeout", type=int, default=900, help="seconds before a playbook run is killed")
    parser.add_argument("--max-minutes", type=int, default=45, help="no new round starts after this (default 45)")
    parser.add_argument("--keep-lab", action="store_true", help="leave the last lab up (debugging)")
    parser.add_argument("--results-dir", default=os.path.join(BENCH, "results"))
    parser.add_argument("--work-dir", help="logs and inventories (default .cache/bench/TIMESTAMP)")
    parser.add_argument("--table", metavar="RESULTS_JSON", help="print the table of a finished run and stop")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 1
        args.skip_p3 = True
    args.modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if set(args.modes) - {"kv", "swarm"} or args.rounds < 1 or not 1 <= args.iperf_seconds <= 60:
        parser.error("modes are kv and swarm, rounds at least 1, iperf3 runs 1 to 60 s")
    return args


class Recorded:  # pylint: disable=too-few-public-methods
    """A finished run read back from its JSON, for `--table`."""

    def __init__(self, result):
        self.runs, self.p4 = result["runs"], result["p4"]
        self.notes, self.errors = result["notes"], result["errors"]


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.table:
        with open(args.table, encoding="utf-8") as handle:
            recorded = Recorded(json.load(handle))
        print(table(*summarize(recorded), recorded))
        return 0
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    bench = Bench(args)
    started = time.monotonic()
    machine = describe_machine()
    log("logs and inventories in %s" % bench.work)
    try:
        bench.run()
    except (Interrupted, KeyboardInterrupt) as exc:
        bench.errors.append("interrupted: %s" % (exc or "Ctrl-C"))
        log(bench.errors[-1])
    except Exception:  # pylint: disable=broad-exception-caught  # still write what was measured
        bench.errors.append("the benchmark failed: %s" % traceback.format_exc())
        log(bench.errors[-1])
    summary, times = summarize(bench)
    result = {
        "schema": 1,
        "started": bench.stamp,
        "seconds": round(time.monotonic() - started, 1),
        "options": {key: value for key, value in vars(args).items() if key not in ("results_dir", "work_dir")},
        "lab": {"lab_name": LAB_NAME, "networks": LAB_NETWORKS, "blank": args.blank},
        "machine": machine,
        "summary": summary,
        "times": times,
        "p4": bench.p4,
        "setup": bench.setup,
        "runs": bench.runs,
        "notes": bench.notes,
        "errors": bench.errors,
        "work_dir": bench.work,
    }
    os.makedirs(args.results_dir, exist_ok=True)
    path = os.path.join(args.results_dir, "%s%s.json" % (bench.stamp, "-quick" if args.quick else ""))
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(repository_relative(result), handle, indent=2)
        handle.write("\n")
    print(table(summary, times, bench))
    print("\nresults: %s (%.0f s); logs: %s" % (os.path.relpath(path, ROOT), result["seconds"], bench.work))
    failed = bench.errors or [run for run in bench.runs if not run.get("ok")] or [item for item in bench.p4 if not item.get("ok")]
    return 1 if failed else 0


def repository_relative(value):
    """value with every path inside the repository made relative to it: committed results name no machine's paths."""
    if isinstance(value, dict):
        return dict((key, repository_relative(item)) for key, item in value.items())
    if isinstance(value, list):
        return [repository_relative(item) for item in value]
    if isinstance(value, str):
        # also inside a message (an error's "Origin: /.../roles/..."), not only a value that is a path
        return "." if value == ROOT else value.replace(ROOT + os.sep, "")
    return value


if __name__ == "__main__":
    sys.exit(main())
