"""Only for the wheel's tag; the project is described in pyproject.toml.

A libdigitcnn.so* copied into digitcnn/ before building is bundled (pyproject's package-data),
and a wheel holding a shared library for one platform must not be tagged ``none-any``: it is
tagged ``py3-none-<platform>`` then (ctypes, so no Python ABI), and ``py3-none-any`` without it.
"""
from pathlib import Path

from setuptools import setup
from setuptools.dist import Distribution

BUNDLED = any((Path(__file__).resolve().parent / "digitcnn").glob("libdigitcnn.so*"))

try:
    from setuptools.command.bdist_wheel import bdist_wheel  # setuptools >= 70.1
except ImportError:
    try:
        from wheel.bdist_wheel import bdist_wheel  # python3-wheel, with older setuptools
    except ImportError:
        bdist_wheel = None


class LibraryDistribution(Distribution):
    def has_ext_modules(self):  # the bundled library, installed as platform code (platlib)
        return BUNDLED


commands = {}
if bdist_wheel is not None:
    class platform_wheel(bdist_wheel):
        def get_tag(self):
            python, abi, platform = super().get_tag()
            return ("py3", "none", platform) if BUNDLED else (python, abi, platform)

    commands["bdist_wheel"] = platform_wheel

setup(distclass=LibraryDistribution, cmdclass=commands)
