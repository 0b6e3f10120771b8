"""hastack: a SaltStack node agent and orchestrator for a highly available OpenStack control plane."""

import os

from setuptools import find_packages, setup

here = os.path.dirname(os.path.abspath(__file__))
pins = {}
with open(os.path.join(here, "src", "hastack", "pins.py")) as f:
    exec(f.read(), pins)

setup(
    name="hastack",
    version="0.1.0",
    description=__doc__,
    long_description=open(os.path.join(here, "README.md")).read(),
    long_description_content_type="text/markdown",
    package_dir={"": "src"},
    packages=find_packages("src"),
    python_requires=">=3.11",
    install_requires=pins["RUNTIME"],
    extras_require={"test": pins["TEST"]},
    entry_points={"console_scripts": ["hastack = hastack.cli:main"]},
    classifiers=["Programming Language :: Python :: 3", "Topic :: System :: Clustering"],
)
