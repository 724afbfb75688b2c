"""The ``orchestration`` command line: one module per command group.

Collection is off while the CLI imports (tens of thousands of objects, none of them garbage);
`orchestration.cli.app.main` freezes what was imported and turns it back on.
"""

import gc

__all__: list[str] = []

gc.disable()
