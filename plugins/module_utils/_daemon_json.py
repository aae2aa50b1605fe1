# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's daemon.json, read and judged one way: by preflight (a problem to report) and daemon_json (a refusal).

Also what daemon_json needs to change it safely, free of Ansible plumbing: the merge, the flags the engine's unit
already passes (a key given both ways stops dockerd), what `dockerd --validate` answered, and backup rotation. The
engine's service (its unit, restarts, its journal) is _engine_service's.
"""

from __future__ import annotations

import json
import re
import time

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError

DEFAULT_PATH = "/etc/docker/daemon.json"
UNTOUCHED = "fix it by hand; the collection does not overwrite a daemon.json it cannot read"

# What the user would call each JSON value that is not an object.
JSON_NAMES = ((bool, "boolean"), (list, "array"), (str, "string"), (int, "number"), (float, "number"), (type(None), "null"))


class DaemonJsonError(MhnetError):
    """daemon.json cannot be read, or holds something other than a JSON object; it is never overwritten then."""


def json_name(value):
    """The JSON name of a parsed value's type: [1] -> 'array' (bool is tested before int, which it subclasses)."""
    return next(name for kind, name in JSON_NAMES if isinstance(value, kind))


def parse_daemon_json(text, path=DEFAULT_PATH):
    """The settings in daemon.json's text: {} for no file (None) or an empty one; DaemonJsonError unless a JSON object."""
    if text is None or not text.strip():
        return {}
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise DaemonJsonError("%s is not valid JSON (%s): %s" % (path, exc, UNTOUCHED)) from exc
    if not isinstance(config, dict):
        raise DaemonJsonError("%s holds a JSON %s, not a JSON object: %s" % (path, json_name(config), UNTOUCHED))
    return config


def read_daemon_json(path=DEFAULT_PATH):
    """(text, settings) of the file at path; (None, {}) when there is none. DaemonJsonError when unreadable or invalid."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None, {}
    except OSError as exc:
        raise DaemonJsonError("cannot read %s (%s): run the task with become, or fix the file's permissions" % (path, exc)) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DaemonJsonError("%s is not valid JSON (%s): %s" % (path, exc, UNTOUCHED)) from exc
    return text, parse_daemon_json(text, path)


class DaemonJsonRefused(DaemonJsonError):
    """The merged settings would stop the engine from starting (a key it also gets as a flag, or dockerd --validate said
    no); nothing was changed."""


def merged(config, settings, remove):
    """The file's settings with the `remove` keys dropped and `settings` set; every other key kept."""
    result = dict((key, value) for key, value in config.items() if key not in remove)
    result.update(settings)
    return result


def render(config):
    """The text daemon_json writes: sorted keys, two-space indent, a final newline."""
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


# daemon.json keys whose name differs from their dockerd flag's: each key is an option's NamedOption name (moby
# cmd/dockerd/config*.go and options.go, 20.10, with 23.0's --feature). Every other flag's key is its long name.
FLAG_KEYS = {
    "host": "hosts", "label": "labels", "storage-opt": "storage-opts", "authorization-plugin": "authorization-plugins",
    "exec-opt": "exec-opts", "dns-opt": "dns-opts", "log-opt": "log-opts", "cluster-store-opt": "cluster-store-opts",
    "node-generic-resource": "node-generic-resources", "registry-mirror": "registry-mirrors",
    "insecure-registry": "insecure-registries", "default-ulimit": "default-ulimits",
    "default-address-pool": "default-address-pools", "add-runtime": "runtimes", "feature": "features",
}
SHORT_FLAGS = {"H": "host", "D": "debug", "l": "log-level", "G": "group", "p": "pidfile", "g": "graph", "b": "bridge",
               "s": "storage-driver", "r": "restart"}
# Given both ways without complaint (moby's skipDuplicates), or not settings at all.
NOT_CONFLICTING = {"runtimes", "config-file", "validate"}


def flag_settings(argv):
    """{daemon.json key: the flag as written, with its value} for each flag in a dockerd command line (argv[0] excluded):
    ['/usr/sbin/dockerd', '-H', 'fd://', '--debug'] -> {'hosts': '-H fd://', 'debug': '--debug'}. dockerd takes no
    arguments, so a word that is not a flag is the value of the flag before it."""
    found = {}
    words = argv[1:]
    for index, word in enumerate(words):
        if word.startswith("--") and len(word) > 2:
            name = word[2:].split("=", 1)[0]
        elif word.startswith("-") and len(word) > 1 and word[1] in SHORT_FLAGS:
            name = SHORT_FLAGS[word[1]]
        else:
            continue
        key = FLAG_KEYS.get(name, name)
        following = words[index + 1] if index + 1 < len(words) else ""
        written = word if "=" in word or len(word) > 2 and not word.startswith("--") or not following or following.startswith("-") \
            else "%s %s" % (word, following)
        if key not in NOT_CONFLICTING:
            found.setdefault(key, written)
    return found


def flag_conflicts(config, argv):
    """[(key, flag)] for each key of config that dockerd's command line also sets: dockerd refuses to start then
    ('the following directives are specified both as a flag and in the configuration file')."""
    flags = flag_settings(argv)
    return [(key, flags[key]) for key in sorted(config) if key in flags]


def flag_value(argv, name):
    """The value of a long flag in a command line ('--config-file=X' or '--config-file X'), or None."""
    for index, word in enumerate(argv):
        if word == "--" + name and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith("--%s=" % name):
            return word.split("=", 1)[1]
    return None


def without_flag(argv, name):
    """argv without a long flag and its value ('--config-file X' or '--config-file=X')."""
    kept, skip = [], False
    for word in argv:
        if skip:
            skip = False
        elif word == "--" + name:
            skip = True
        elif not word.startswith("--%s=" % name):
            kept.append(word)
    return kept


def validate_answer(rc, stdout, stderr):
    """What `dockerd --validate --config-file FILE` said: (True, '') accepted, (False, why) refused, (None, why) this
    dockerd cannot validate (before 23.0: 'unknown flag: --validate')."""
    text = " ".join((stderr or "").split() + (stdout or "").split())
    if "unknown flag: --validate" in text:
        return None, text
    if rc == 0:
        return True, ""
    lines = [line.strip() for line in ((stderr or "") + "\n" + (stdout or "")).splitlines() if line.strip()]
    return False, lines[0] if lines else "exit status %d" % rc


# --- Backups --------------------------------------------------------------------------------------------------------

def backup_name(path, pid, when):
    """AnsibleModule.backup_local's name for a copy of path: daemon.json.PID.YYYY-MM-DD@HH:MM:SS~ (when: a struct_time)."""
    return "%s.%s.%s" % (path, pid, time.strftime("%Y-%m-%d@%H:%M:%S~", when))


def stale_backups(basename, entries, keep):
    """Names of backups of basename beyond the newest `keep`, from (name, mtime) entries of its directory; the newest
    are the latest stamps in their names (mtime breaks ties). Other files are never named."""
    pattern = re.compile(r"^%s\.\d+\.(\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d)~$" % re.escape(basename))
    backups = []
    for name, mtime in entries:
        match = pattern.match(name)
        if match:
            backups.append((match.group(1), mtime, name))
    backups.sort(reverse=True)
    return sorted(name for dummy, dummy2, name in backups[max(keep, 0):])
