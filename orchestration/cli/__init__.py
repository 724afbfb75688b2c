"""The ``orchestration`` command line: one module per command group."""
