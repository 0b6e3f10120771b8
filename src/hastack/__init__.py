"""hastack: a Salt node agent and orchestrator for a highly available OpenStack control plane.

The package holds the decisions (pillar validation, rollout plans, config rendering, elections)
as plain Python with no Salt in it; the Salt modules in ``_modules/``, ``_states/`` and
``_runners/`` are thin adapters over it. ``hastack.lab`` is the lab, a separate part.
"""

__version__ = "0.1.0"
