"""Keep the compatibility corpus out of the default pytest run.

The corpus flows import ``promptflow`` and some of their files are named ``test_*.py``; the
harness is run explicitly (see README.md), so pytest collects nothing below this folder.
"""

collect_ignore_glob = ["*"]
