"""The data layer: every recipe reads its data through :mod:`zoo.data.examples` (the front door), which picks a
reader by the form of ``data`` (:mod:`zoo.data.sources`), splits by content (:mod:`zoo.data.splits`) and maps
labels to ids (:mod:`zoo.data.labels`). One reader per kind of source: :mod:`~zoo.data.delimited` (CSV/TSV),
:mod:`~zoo.data.json_records` (JSON Lines/JSON), :mod:`~zoo.data.folders`, :mod:`~zoo.data.npz`,
:mod:`~zoo.data.tfds_source`, and the bundled :mod:`~zoo.data.bbc_news` and :mod:`~zoo.data.mnist`."""

from zoo.data.splits import Provenance, Splits

__all__ = ["Provenance", "Splits"]
