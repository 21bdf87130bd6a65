"""`python -m data_copy`: a Ctrl-C or SIGTERM that arrives while the CLI is still being
imported ends like one during a command: one line, exit 130, nothing changed yet."""

import signal
import sys


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _terminate)
try:
    from data_copy.cli import main
except KeyboardInterrupt:
    line = "interrupted: stopped while starting, before it connected (run the same command again: nothing had changed)"
    print(line, file=sys.stderr)
    raise SystemExit(130) from None

main()
