# Copyright (c) OpenMMLab. All rights reserved.
"""Another live run, in its own process, holding a work dir."""
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.tool_loader import REPO_ROOT


@contextmanager
def another_run_holding(folder: Path) -> Iterator[subprocess.Popen]:
    """A process that holds ``folder`` by ``lock_work_dir`` while inside.

    Yields:
        subprocess.Popen: The process; killed on exit, as a run can be.
    """
    other = subprocess.Popen([
        sys.executable, '-c',
        'import time; from projects.fame.engine import lock_work_dir; '
        f'lock_work_dir({str(folder)!r}); print(flush=True); time.sleep(60)'
    ], stdout=subprocess.PIPE, cwd=REPO_ROOT)
    try:
        other.stdout.readline()  # it holds the lock
        yield other
    finally:
        other.kill()
        other.wait()
