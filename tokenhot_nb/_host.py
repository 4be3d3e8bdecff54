"""Which processes this one can see, for telling a dead writer from a live one elsewhere.

A row or a temp file names its writer by process id and host. The host name alone is not enough: two containers
(``--network host``, a set ``--hostname``, a dev container beside its host) can share one name and one mounted
store, each with its own process ids, and a kernel looking up the other's id in its own table would take a live
call for a dead one. So the host is named with its process-id namespace too (Linux: ``/proc/self/ns/pid``);
without one (not Linux) it is the host name, as before.
"""

from __future__ import annotations

import os
import socket


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")  # e.g. "pid:[4026531836]"
    except OSError:
        return ""


#: The host name (what rows written before the namespace was kept name their host by)
NAME = socket.gethostname()
#: The host and process-id namespace this process looks up ids in
ID = f"{NAME} {_pid_namespace()}".rstrip()
