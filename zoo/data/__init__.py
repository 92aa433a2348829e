"""Data sources: each module loads one source into :class:`zoo.data.splits.Splits`."""

from zoo.data.splits import Provenance, Splits

__all__ = ["Provenance", "Splits"]
