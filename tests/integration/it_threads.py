"""Worker threads in the integration tests' Python parts: one that dies of
an exception fails the test. Python only prints such a death: a reader
that died of EIO counted no wrong read, and a pinner that died of an
unexpected errno left the test passing (fs_shadow_reclaim did, for a pin
answered EAGAIN). Import it before starting threads; call check() after
joining them. lib.sh puts this directory on PYTHONPATH."""
import sys
import threading

died = []


def _record(args):
    died.append("%s: %r" % (args.thread.name, args.exc_value))
    threading.__excepthook__(args)


threading.excepthook = _record


def check():
    """Exits with status 1, saying why, if a worker thread died."""
    if died:
        print("a worker thread died: " + "; ".join(died[:3]))
        sys.exit(1)
