"""Folders: one subfolder per class (the layout of Keras' ``text_dataset_from_directory`` and
``image_dataset_from_directory``), or files without classes.

- ``ROOT/<class>/**/*.txt``: labelled text, one example a file; the subfolder's name is the label.
- ``ROOT/<class>/**/*.png`` (PNG, JPEG, GIF, BMP): labelled images.
- ``ROOT/*.txt`` or ``ROOT/*.png``…: text or images without labels (pretraining, language models, autoencoders).

Hidden files and folders (``.DS_Store``, ``.ipynb_checkpoints``) and files of other types are skipped. Files are
read in sorted path order; a text file's surrounding whitespace is dropped. The table's origin carries the sha256
of the folder's manifest: one ``relative/path<TAB>sha256`` line per file read, sorted.

Example:

>>> import pathlib, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for label, text in (("billing", "Refund please"), ("it", "Printer jams")):
...     (root / label).mkdir(); _ = (root / label / "1.txt").write_text(text + "\\n")
>>> layout = scan_folder(root)
>>> layout.kind, layout.labelled, sorted(layout.files)
('text', True, ['billing', 'it'])
>>> read_folder(layout, "utf-8", None)["label"].tolist()
['billing', 'it']
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from zoo.data.images import IMAGE_EXTENSIONS, read_image_files
from zoo.data.table import Origin, Table, object_array
from zoo.data.text_files import decode_text, read_bytes
from zoo.errors import BadDataError

KINDS = {".txt": "text", **{extension: "image" for extension in IMAGE_EXTENSIONS}}


@dataclasses.dataclass(frozen=True)
class FolderLayout:
    """What a folder holds: ``kind`` (``"text"`` or ``"image"``), whether its files are ``labelled`` by class
    subfolders, and ``files`` by label (the one key ``""`` without labels)."""

    root: Path
    kind: str
    labelled: bool
    files: dict[str, list[Path]]


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _data_files(folder: Path) -> list[Path]:
    """Files under ``folder`` (recursively) whose type a recipe reads, in sorted order; hidden ones skipped."""
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).parts
        if path.is_file() and all(not part.startswith(".") for part in relative) and path.suffix.lower() in KINDS:
            found.append(path)
    return found


def scan_folder(root: Path) -> FolderLayout:
    """The layout of ``root``; a BadDataError when it holds nothing a recipe reads, mixes text and images, or has
    both class subfolders and files beside them."""
    entries = sorted(p for p in root.iterdir() if _visible(p))
    loose = [p for p in entries if p.is_file() and p.suffix.lower() in KINDS]
    classes = {p.name: _data_files(p) for p in entries if p.is_dir()}
    classes = {name: files for name, files in classes.items() if files}
    if classes and loose:
        names = ", ".join(list(classes)[:3]) + (", …" if len(classes) > 3 else "")
        raise BadDataError(f"{root} holds class subfolders ({names}) and files beside them ({loose[0].name}): "
                           "put every file in its class's subfolder, or use a folder without subfolders for data "
                           "without labels")
    files = classes if classes else ({"": loose} if loose else {})
    if not files:
        raise BadDataError(f"{root} holds no .txt files or images (PNG, JPEG, GIF, BMP), neither directly "
                           "nor in class subfolders")
    kinds = {KINDS[p.suffix.lower()] for paths in files.values() for p in paths}
    if len(kinds) > 1:
        raise BadDataError(f"{root} holds both .txt files and images; a data folder holds one kind")
    return FolderLayout(root, kinds.pop(), bool(classes), files)


def read_folder(layout: FolderLayout, encoding: str, image_size: tuple[int, int] | None) -> Table:
    """Every file of ``layout`` as a :class:`Table` with ``text`` or ``image``, and ``label`` when labelled."""
    paths = [p for label in sorted(layout.files) for p in layout.files[label]]
    manifest = hashlib.sha256()
    contents = []
    for path in paths:
        data = read_bytes(path)
        manifest.update(f"{path.relative_to(layout.root).as_posix()}\t{hashlib.sha256(data).hexdigest()}\n".encode())
        if layout.kind == "text":
            contents.append(decode_text(path, data, encoding).strip())
    if layout.kind == "text":
        columns = {"text": object_array(contents)}
    else:
        columns = {"image": read_image_files(paths, image_size)}
    if layout.labelled:
        columns["label"] = object_array([label for label in sorted(layout.files) for _ in layout.files[label]])
    kind = f"folder of {'labelled ' if layout.labelled else ''}{'text files' if layout.kind == 'text' else 'images'}"
    return Table(columns, Origin(str(layout.root), kind, manifest.hexdigest(), len(paths)))
