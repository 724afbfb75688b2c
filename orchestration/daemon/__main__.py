"""``python -m orchestration.daemon``: start the daemon (`orchestration.daemon.main`)."""

import sys

from orchestration.daemon.main import main

__all__: list[str] = []

sys.exit(main(sys.argv[1:]))
