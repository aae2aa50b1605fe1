# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's daemon.json, read and judged one way: by preflight (a problem to report) and daemon_json (a refusal)."""

from __future__ import annotations

import json

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
