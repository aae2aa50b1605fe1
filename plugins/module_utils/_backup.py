# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Backups of the cluster's state: which manager a swarm backup stops, which node entries a restore drops, and
the checks an archive passes before it is unpacked. Pure functions (tests: tests/unit/plugins/module_utils)."""

from __future__ import annotations

import json
import os
import tarfile

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError


class BackupError(MhnetError):
    """A backup or a restore cannot go on; nothing or only what the message says was changed."""


def _hostname(node):
    return ((node.get("Description") or {}).get("Hostname")) or ""


def _is_leader(node):
    return bool((node.get("ManagerStatus") or {}).get("Leader"))


def choose_backup_manager(nodes, managers):
    """(hostname, is_leader) of the manager whose engine a swarm backup stops.

    nodes: the swarm's nodes as a manager lists them (API /nodes). managers: the planned managers' hostnames, in
    the plan's order. The first planned manager that is Ready, reachable and not the leader; the leader only when it
    is the one Ready manager (the swarm has no manager while its engine is stopped). Stopping a follower keeps the
    Raft majority of three or more managers.
    """
    ready = {}
    for node in nodes:
        status = node.get("ManagerStatus") or {}
        if (node.get("Spec") or {}).get("Role") != "manager" or not status:
            continue
        if (node.get("Status") or {}).get("State") != "ready" or status.get("Reachability") != "reachable":
            continue
        ready[_hostname(node)] = _is_leader(node)
    planned = [name for name in managers if name in ready]
    if not planned:
        raise BackupError(
            "no planned manager (%s) is Ready and reachable in the swarm (managers seen: %s): nothing was changed; "
            "bring a manager back (site.yml) before backing up" % (", ".join(managers) or "none", ", ".join(sorted(ready)) or "none"))
    followers = [name for name in planned if not ready[name]]
    if followers:
        return followers[0], False
    return planned[0], True


def stale_nodes(nodes, own_id, hostnames):
    """The node entries a restored swarm drops: nodes other than the restored node itself, not Ready (a new cluster
    shows them unknown, then down), of the hosts that were in no swarm when the restore began: their engines cannot
    come back under those IDs, and they rejoin under new ones when site.yml runs."""
    wanted = set(hostnames)
    return [node for node in nodes
            if node.get("ID") != own_id and _hostname(node) in wanted
            and (node.get("Status") or {}).get("State") != "ready"]


def check_swarm_archive(names, top="swarm"):
    """Refuse an archive whose members are not all under TOP/ (no absolute paths, no '..'): what a swarm backup holds."""
    if top not in names and not any(name.startswith(top + "/") for name in names):
        raise BackupError("the archive holds no %s/ directory: it is not a swarm backup made by mhnet.cluster "
                          "(tar -tzf shows its contents)" % top)
    for name in names:
        parts = name.split("/")
        if name.startswith("/") or ".." in parts or parts[0] != top:
            raise BackupError("the archive's member %r is outside %s/: refused, nothing was changed" % (name, top))


def archive_address(path, top="swarm"):
    """The cluster address the backed-up manager advertised, read from the archive's TOP/docker-state.json ("" when
    the archive has none)."""
    with tarfile.open(path, mode="r:gz") as archive:
        try:
            member = archive.extractfile(top + "/docker-state.json")
        except KeyError:
            return ""
        state = json.load(member) if member else {}
    return address_host(state.get("AdvertiseAddr") or state.get("LocalAddr") or "")


def address_host(address):
    """The host part of ADDRESS or ADDRESS:PORT (IPv4, or [IPv6]:PORT)."""
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


def check_restore_address(archived, advertise_addr):
    """Refuse a restore onto another address than the backed-up manager's: the Raft state keeps that manager's
    address as its own member's, and managers that join later dial it (seen on the lab: a manager restored on
    another host kept the archive's address, and the next manager to join took that address, leaving no leader)."""
    if archived and archived != address_host(advertise_addr):
        raise BackupError(
            "the archive was made on the manager advertising %s, and this host advertises %s: a swarm's Raft state "
            "keeps its manager's address, so restore it onto the host with cluster address %s (swarm_restore_host), "
            "or give this host that address; nothing was changed" % (archived, address_host(advertise_addr), archived))


def write_archive(source_dir, path):
    """Archive source_dir (tar.gz, its last path component as the top directory) into path, created with mode 0600."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    partial = path + ".partial"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        with tarfile.open(fileobj=handle, mode="w:gz") as archive:
            archive.add(source_dir, arcname=os.path.basename(source_dir.rstrip("/")))
    os.replace(partial, path)
    return os.path.getsize(path)


def extract_archive(path, parent, top="swarm"):
    """Unpack a swarm archive into parent (owners and modes as archived); its members checked first."""
    with tarfile.open(path, mode="r:gz") as archive:
        check_swarm_archive(archive.getnames(), top)
        if hasattr(tarfile, "tar_filter"):
            archive.extractall(parent, numeric_owner=True, filter="tar")
        else:  # Python before 3.11.4: the members were checked above
            archive.extractall(parent, numeric_owner=True)  # noqa: S202
