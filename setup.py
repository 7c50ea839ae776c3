"""Build hook: copy the repository's top-level ``assets/`` and ``scenarios/`` into the wheel as
``jwmsim/_shipped/`` (see :mod:`jwmsim.resources`), and the package list: ``jwmsim*`` plus the
top-level ``agents/`` folder installed as ``jwmsim_agents``. Everything else is in pyproject.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("assets", "scenarios")  # = jwmsim.resources.SHIPPED_FOLDERS


class BuildPyWithShippedData(build_py):
    """``build_py`` that also copies the shipped folders into ``<build_lib>/jwmsim/_shipped``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the folders from the checkout
            return
        for name in SHIPPED:
            src = ROOT / name
            if not src.is_dir():
                raise SystemExit(f"cannot build jwmsim: {src} is missing")
            dst = Path(self.build_lib) / "jwmsim" / "_shipped" / name
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))


setup(
    packages=[*find_packages(include=["jwmsim", "jwmsim.*"]), "jwmsim_agents"],
    package_dir={"jwmsim_agents": "agents"},
    cmdclass={"build_py": BuildPyWithShippedData},
)
