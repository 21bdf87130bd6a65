"""`python -m data_copy`: a Ctrl-C or SIGTERM that arrives while the CLI is still being
imported ends like one during a command: one line, exit 130, nothing changed yet."""

import os
import signal
import sys

_STARTING = (
    b"interrupted: stopped while starting, before it connected (run the same command again: nothing had changed)\n"
)


def _leave(code: int) -> None:
    """Exit now, past CPython's `-m` launcher: once a KeyboardInterrupt has ended a string
    `exec` (dataclasses and namedtuple build their methods that way), the launcher kills the
    process with SIGINT at exit even though the interrupt was caught (Modules/main.c)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: the line is lost either way
            pass
    os._exit(code)


def _while_starting(signum: int, frame: object) -> None:
    # not an exception: raised inside an import it can come out as a RuntimeError (from a
    # class's __set_name__) or be swallowed (importlib's lock callbacks). Importing changes
    # nothing and prints nothing, so leave at once, with os.write and no flush: a buffered
    # stream is not re-entrant
    os.write(2, _STARTING)
    os._exit(130)


signal.signal(signal.SIGINT, _while_starting)
signal.signal(signal.SIGTERM, _while_starting)
from data_copy.cli import main  # noqa: E402
from data_copy.errors import INTERRUPTED  # noqa: E402

try:
    signal.signal(signal.SIGINT, signal.default_int_handler)  # main() sets its own SIGTERM handler
    main()
except KeyboardInterrupt:  # before main() reached its own try
    os.write(2, _STARTING)
    _leave(INTERRUPTED)
except SystemExit as done:
    if done.code == INTERRUPTED:
        _leave(INTERRUPTED)
    raise
