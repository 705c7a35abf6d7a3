"""The ``pfl`` command line: each module here registers one command group (``flow``, ``run``...)."""
