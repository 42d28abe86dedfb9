"""Children that take Ctrl-C as a terminal's Python does.

A shell starts background jobs with SIGINT ignored, and a child inherits that; Python then
installs no KeyboardInterrupt handler, so a test run started with ``make test &`` (or by a CI
runner that does the same) would see every SIGINT swallowed. The Ctrl-C tests start their
children with SIGINT at its default instead, as a user's interactive Python or kernel has it.
"""

from __future__ import annotations

import signal


def default_sigint() -> None:
    """``preexec_fn`` for a child that must get Python's own SIGINT handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
