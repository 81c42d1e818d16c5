"""The wheel's packages: ``jobmatch*``, and the top-level ``conf/`` shipped inside it as ``jobmatch/conf/``.

``jobmatch.app.config_tree`` finds the config tree in either place, so an installed package runs its commands
from any directory while a checkout keeps ``conf/`` at the top. Everything else is in ``pyproject.toml``.
"""

from setuptools import find_namespace_packages, find_packages, setup

CONF_PACKAGES = ["jobmatch.conf", *(f"jobmatch.conf.{name}" for name in find_namespace_packages(where="conf"))]

setup(
    packages=[*find_packages(include=["jobmatch", "jobmatch.*"]), *CONF_PACKAGES],
    package_dir={"jobmatch.conf": "conf"},
)
