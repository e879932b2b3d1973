"""Moved to :mod:`sicnb.structure.approximant` (shared by cluster, bvse and the band-gap screen); kept as an alias."""
from sicnb.structure.approximant import majority_ordered

__all__ = ["majority_ordered"]
