#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_lock
short_description: Keep a second run off the cluster's hosts until this run has ended
version_added: 0.3.0
description:
  - Runs on the controller (an action plugin). Locks every host of the play for the rest of the run, so that two runs
    against the same hosts cannot collide (two C(site.yml) runs would otherwise race to create the same containers).
  - Each host has a lock file in O(lock_dir), named after the address Ansible reaches it by (C(ansible_host), else its
    inventory name), locked with C(flock). A small process keeps the lock until the C(ansible-playbook) process has
    exited, however it ends (success, failure, interrupt or kill); a lock file never goes stale.
  - A host this run already holds (an earlier play of the same run) is not locked again.
  - When another run holds any of the hosts, nothing is locked and the task fails after O(wait) seconds, naming the
    hosts and the run holding them (its PID, user, controller, since when and its command line).
  - Runs that share no host do not wait for each other. Runs from different controllers do not see each other's locks.
  - Run it once (C(run_once)), before any task that changes a host; the M(mhnet.cluster.preflight) role does.
extends_documentation_fragment:
  - mhnet.cluster.attributes
attributes:
  action:
    description: Runs on the controller as an action plugin.
    support: full
  check_mode:
    support: full
    details:
      - Takes the lock in check mode too, since a check run reads what another run may be changing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Changes no host; the lock lasts for the run and is never reported as a change.
options:
  wait:
    description:
      - Seconds to wait for another run to release the hosts; V(0) fails at once.
    type: float
    default: 0
  lock_dir:
    description:
      - Directory on the controller that holds the lock files; made if missing.
      - Unset, C(~/.ansible/mhnet_locks) of the user running Ansible. Runs that are to exclude each other must use the
        same directory.
    type: path
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Take the play's hosts for this run
  mhnet.cluster.cluster_lock:
  run_once: true

- name: Wait up to ten minutes for another run to finish
  mhnet.cluster.cluster_lock:
    wait: 600
  run_once: true
"""

RETURN = r"""
locked:
  description: The play's hosts this run holds (locked by this task or by an earlier play of the run).
  returned: success
  type: list
  elements: str
  sample: [mh-keystore, mhs-demo0, mhs-demo1]
lock_dir:
  description: The directory of the lock files.
  returned: success
  type: str
  sample: /root/.ansible/mhnet_locks
waited:
  description: Seconds spent waiting for another run.
  returned: always
  type: float
  sample: 0.0
"""
