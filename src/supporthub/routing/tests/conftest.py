"""Fixtures of the paging tests (defined beside their world in paging_world)."""

from supporthub.routing.tests.paging_world import acme, receiver, rotations

__all__ = ["acme", "receiver", "rotations"]
