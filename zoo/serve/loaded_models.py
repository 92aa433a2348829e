"""Which model versions are served: TF Serving's file-system poll over ``BASE/NAME/<integer>/``.

Every non-hidden directory under the base is a model; its integer-named subdirectories holding a
``saved_model.pb`` are versions (hidden ``.tmp-*`` export directories are ignored). The version policy and
version labels come from ``BASE/models.config`` when it lists the model (``model_version_policy`` ``latest``,
``all`` or ``specific``; ``version_labels``); by default the latest version is served. ``refresh`` loads new
versions before unloading old ones (and keeps the old ones if no new one loads), and an unloaded version
finishes the requests it is running. A version that failed to load (for example copied in file by file) is
tried again once its files change.

Example:

>>> models = LoadedModels("saved_models")            # doctest: +SKIP
>>> models.refresh()                                  # doctest: +SKIP
>>> with models.use("half_plus_two") as model:        # doctest: +SKIP
...     model.version
1
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from pathlib import Path
from typing import Iterator

from zoo.errors import ExportError
from zoo.export.models_config import CONFIG_FILE, parse_models_config
from zoo.serve.batching import BatchingOptions
from zoo.serve.errors import ServingError, invalid
from zoo.serve.loader import LoadedVersion
from zoo.serve.metrics import ServingMetrics

log = logging.getLogger("zoo.serve")


@dataclasses.dataclass(frozen=True)
class ModelPolicy:
    """``latest`` versions to serve (``None`` with ``all_versions`` or ``specific``), and version labels."""

    latest: int | None = 1
    all_versions: bool = False
    specific: frozenset[int] = frozenset()
    labels: dict[str, int] = dataclasses.field(default_factory=dict)

    def wanted(self, on_disk: list[int]) -> set[int]:
        if self.all_versions:
            return set(on_disk)
        if self.specific:
            return self.specific & set(on_disk)
        return set(sorted(on_disk)[-self.latest:])


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    version: int
    state: str
    error_code: str = "OK"
    error_message: str = ""


def read_policies(base: Path) -> dict[str, ModelPolicy]:
    """Policies of the models ``BASE/models.config`` lists (empty if there is none or it does not parse)."""
    path = base / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        config = parse_models_config(path.read_text(encoding="utf-8"))
    except (ExportError, OSError, UnicodeDecodeError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return {}
    policies = {}
    for entry in config.model_config_list.config:
        choice = entry.model_version_policy.WhichOneof("policy_choice")
        policy = entry.model_version_policy
        policies[entry.name] = ModelPolicy(
            latest=(policy.latest.num_versions or 1) if choice in (None, "latest") else None,
            all_versions=choice == "all",
            specific=frozenset(policy.specific.versions) if choice == "specific" else frozenset(),
            labels=dict(entry.version_labels),
        )
    return policies


def versions_on_disk(model_dir: Path) -> list[int]:
    """Integer subdirectories with a saved_model.pb, ascending."""
    return sorted(
        int(p.name) for p in model_dir.iterdir()
        if p.name.isascii() and p.name.isdigit() and (p / "saved_model.pb").is_file()
    )


def files_fingerprint(version_dir: Path) -> frozenset[tuple[str, int, int]]:
    """(path, size, mtime) of every file under ``version_dir``: it changes when a file is added, removed or rewritten.

    >>> files_fingerprint(Path("/nonexistent"))
    frozenset()
    """
    entries = set()
    for path in version_dir.rglob("*"):
        try:
            stat = path.stat()
        except OSError:  # removed while listing: the next poll sees the result
            continue
        entries.add((str(path.relative_to(version_dir)), stat.st_size, stat.st_mtime_ns))
    return frozenset(entries)


@dataclasses.dataclass(frozen=True)
class _Failure:
    message: str
    files: frozenset  # the version's files when the load was tried


class LoadedModels:
    """The loaded versions of every model under ``base``, kept in step with the disk by ``refresh``."""

    def __init__(self, base: str | Path, batching: BatchingOptions | None = None,
                 metrics: ServingMetrics | None = None):
        self.base = Path(base)
        self.batching = batching
        self.metrics = metrics or ServingMetrics()
        self._lock = threading.Lock()
        self._loaded: dict[str, dict[int, LoadedVersion]] = {}
        self._failed: dict[str, dict[int, _Failure]] = {}
        self._policies: dict[str, ModelPolicy] = {}

    def refresh(self) -> None:
        """One poll: load versions that should be served, then unload those that should not."""
        policies = read_policies(self.base)
        models = sorted(p.name for p in self.base.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if self.base.is_dir() else []
        wanted: dict[str, set[int]] = {}
        for name in models:
            try:
                wanted[name] = policies.get(name, ModelPolicy()).wanted(versions_on_disk(self.base / name))
            except OSError as exc:  # the directory went away mid-scan
                log.warning("cannot list %s: %s", self.base / name, exc)
        for name, versions in wanted.items():
            for version in sorted(versions):
                self._load(name, version)
        with self._lock:
            self._failed = {name: {v: m for v, m in self._failed.get(name, {}).items() if v in versions}
                            for name, versions in wanted.items()}
            self._policies = policies
            retiring = []
            for name in list(self._loaded):
                keep = wanted.get(name, set())
                if name in wanted and not keep & set(self._loaded[name]):
                    continue  # no wanted version loaded (yet, or it failed): keep serving the old ones
                for version in list(self._loaded[name]):
                    if version not in keep:
                        retiring.append(self._loaded[name].pop(version))
                if not self._loaded[name]:
                    del self._loaded[name]
        for model in retiring:
            log.info("unloading %s version %d", model.name, model.version)
            model.retire()

    def _load(self, name: str, version: int) -> None:
        path = self.base / name / str(version)
        with self._lock:
            if version in self._loaded.get(name, {}):
                return
            failure = self._failed.get(name, {}).get(version)
        files = files_fingerprint(path)
        if failure is not None and failure.files == files:
            return  # failed before, and nothing on disk changed since
        log.info("%s %s version %d", "loading" if failure is None else "retrying", name, version)
        try:
            model = LoadedVersion(name, version, path, self.batching, self.metrics)
        except Exception as exc:  # a broken SavedModel must not stop the server: report it in the status
            self.metrics.record_load(str(path), succeeded=False)
            log.error("could not load %s version %d: %s", name, version, exc)
            with self._lock:
                self._failed.setdefault(name, {})[version] = _Failure(f"{type(exc).__name__}: {exc}", files)
            return
        self.metrics.record_load(str(path), succeeded=True)
        with self._lock:
            self._failed.get(name, {}).pop(version, None)
            self._loaded.setdefault(name, {})[version] = model

    def resolve_label(self, name: str, label: str) -> int:
        with self._lock:
            labels = self._policies.get(name, ModelPolicy()).labels
        if label not in labels:
            raise invalid(f"Unrecognized servable version label: {label}")
        return labels[label]

    @contextlib.contextmanager
    def use(self, name: str, version: int | None = None, label: str | None = None) -> Iterator[LoadedVersion]:
        """Hold the requested version (latest when neither ``version`` nor ``label``) while the block runs."""
        if label is not None:
            version = self.resolve_label(name, label)
        with self._lock:
            versions = self._loaded.get(name, {})
            model = versions.get(version) if version is not None else versions[max(versions)] if versions else None
            if model is None:
                request = f"Latest({name})" if version is None else f"Specific({name}, {version})"
                raise ServingError("NOT_FOUND", f"Servable not found for request: {request}")
            model.acquire()
        try:
            yield model
        finally:
            model.release()

    def status(self, name: str, version: int | None = None, label: str | None = None) -> list[VersionStatus]:
        """States of a model's versions (one version when given); NOT_FOUND as TF Serving words it."""
        if label is not None:
            version = self.resolve_label(name, label)
        with self._lock:
            states = {v: VersionStatus(v, "AVAILABLE") for v in self._loaded.get(name, {})}
            states.update({v: VersionStatus(v, "END", "UNKNOWN", failure.message)
                           for v, failure in self._failed.get(name, {}).items()})
        if not states:
            raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}")
        if version is not None:
            if version not in states:
                raise ServingError("NOT_FOUND", f"Could not find version {version} of model {name}")
            return [states[version]]
        return [states[v] for v in sorted(states, reverse=True)]

    def close(self) -> None:
        """Unload everything."""
        with self._lock:
            models = [m for versions in self._loaded.values() for m in versions.values()]
            self._loaded.clear()
        for model in models:
            model.retire()
