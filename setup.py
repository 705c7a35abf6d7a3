"""The built-in evaluators live in ``evaluators/`` (plain flow folders) and ship as ``promptflow_lite.evaluators``.

Everything else is in pyproject.toml; a package-dir mapping for a folder outside the package
tree is the one thing pyproject-only setuptools cannot express.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["promptflow_lite*"]) + ["promptflow_lite.evaluators"],
    package_dir={"promptflow_lite.evaluators": "evaluators"},
)
