"""The keystore tests use the shared operator's world."""

from tests.worlds import ACTOR, issue, world

__all__ = ["ACTOR", "issue", "world"]
