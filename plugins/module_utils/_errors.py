# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one root of every error an mhnet.cluster module reports: each module's main() catches it once."""

from __future__ import annotations


class MhnetError(Exception):
    """Something the user must act on; the message says what is wrong, where, and what to do."""
