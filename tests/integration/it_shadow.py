"""The shadowing state of files on a mount, for the integration tests'
Python parts (lib.sh puts this directory on PYTHONPATH)."""
import os
import time


def copy_reads(path):
    """(user.shadow.state of path, reads its serving copy has served)."""
    state = os.getxattr(path, "user.shadow.state").decode()
    n = [int(w.split("reads=")[1].split(":")[0]) for w in state.split() if ":serving:reads=" in w]
    return state, n[0] if n else 0


def wait_copies_served(paths, seconds=15):
    """Waits until the serving copy of each of paths has served a read;
    returns None, or the state of the first that has not after seconds (a
    first remote read under ASan on a loaded machine can take longer than
    the fixed 0.5 s the tests slept: CI saw 43 reads, none by the copy)."""
    deadline = time.monotonic() + seconds
    while True:
        late = [s for s, n in map(copy_reads, paths) if n == 0]
        if not late or time.monotonic() >= deadline:
            return late[0] if late else None
        time.sleep(0.1)
