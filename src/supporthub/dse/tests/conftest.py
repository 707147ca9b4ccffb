"""Fixtures of the DSE tests (defined beside their world in dse.tests.world)."""

from supporthub.dse.tests.world import dse

__all__ = ["dse"]
