"""What every test shares: the real servers' fixtures, and temporary files in RAM.

Temporary folders (``tmp_path``, the SQLite files in them, the PostgreSQL and
Synapse data, the ``sosbot`` processes' folders) go to /dev/shm when the machine
has one and ``TMPDIR`` does not name another place: a SQLite commit there costs
about 0.01 ms instead of 4 ms of fsync on this machine's disk, and the suite makes
thousands. What the tests prove is unchanged: a killed process loses nothing that
the page cache held on a disk either, and file modes, WAL files and locks behave
the same on tmpfs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

pytest_plugins = ["tests.servers.fixtures"]


def _temporary_files_in_ram() -> None:
    shm = Path("/dev/shm")
    if "TMPDIR" not in os.environ and shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        os.environ["TMPDIR"] = str(shm)  # for the processes the tests start, too
        tempfile.tempdir = None  # gettempdir() reads TMPDIR again


_temporary_files_in_ram()
