"""Collect only the comparison test here, never the corpus flows (some of their files are named ``test_*.py``
and import ``promptflow``). ``test_promptflow_compat.py`` runs each recorded case with promptflow_lite."""

collect_ignore_glob = ["flows/*", "record.py", "compare.py", "_harness.py"]
