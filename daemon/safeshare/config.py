"""TOML configuration -> frozen dataclasses. Unknown keys and wrong types are errors that
name the file, the key and what was expected. Every key is documented in
config.example.toml; `safeshare config` prints the effective values.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safeshare import paths
from safeshare.errors import ConfigError


@dataclass(frozen=True)
class CleanConfig:
    """[clean]: how copies are made."""

    rename: bool = field(default=False, metadata={"help": "write neutral names"})
    convert_to: str = field(default="jpeg", metadata={"choices": ("jpeg", "png")})
    jpeg_quality: int = field(default=95, metadata={"min": 50, "max": 100})
    max_pixels: int = field(default=200_000_000, metadata={"min": 1})
    max_file_mb: int = field(default=1024, metadata={"min": 1})
    decode_seconds: float = field(default=60.0, metadata={"min": 1, "max": 3600})
    decode_memory_mb: int = field(default=2048, metadata={"min": 256})


@dataclass(frozen=True)
class WatchConfig:
    """One [[watch]]: a folder the daemon watches."""

    path: Path
    recursive: bool = False
    label: str = field(default="", metadata={"folder_name": True})


@dataclass(frozen=True)
class DaemonConfig:
    """[daemon]: when and how often the daemon looks."""

    first_start: str = field(default="baseline", metadata={"choices": ("baseline", "clean")})
    rescan_minutes: float = field(default=10.0, metadata={"min": 0})
    settle_seconds: float = field(default=1.0, metadata={"min": 0.05, "max": 600})
    folder_check_seconds: float = field(default=5.0, metadata={"min": 0.1, "max": 3600})


@dataclass(frozen=True)
class NotifyConfig:
    """[notify]: what the daemon says."""

    when: str = field(default="all", metadata={"choices": ("all", "errors", "never")})
    detail: str = field(default="full", metadata={"choices": ("full", "brief")})
    burst_seconds: float = field(default=2.0, metadata={"min": 0.0, "max": 60})
    place_names: bool = True


@dataclass(frozen=True)
class VisionConfig:
    """[vision]: looking at the pixels for faces, text and codes."""

    enabled: bool = True  # used when the vision extra is installed
    redact: tuple[str, ...] = field(
        default=(),
        metadata={"choices": ("faces-except-yours", "faces-except-largest", "faces", "text", "codes")},
    )
    memory_mb: int = field(default=3072, metadata={"min": 512})


@dataclass(frozen=True)
class Config:
    """The effective configuration. Where the file names no output folder or no watched
    folders, `output` and `watch` are the platform's defaults, looked up when first asked
    for: `clean -o FOLDER` asks for neither (the lookup imports platformdirs, and on macOS
    runs `defaults`)."""

    given_output: Path | None  # None: the default (`paths.default_output`)
    given_watch: tuple[WatchConfig, ...] | None  # None: the defaults (`default_watches`)
    clean: CleanConfig = CleanConfig()
    daemon: DaemonConfig = DaemonConfig()
    notify: NotifyConfig = NotifyConfig()
    vision: VisionConfig = VisionConfig()
    source: Path | None = None  # the file it was read from, None for built-in defaults

    @functools.cached_property
    def output(self) -> Path:
        return paths.default_output() if self.given_output is None else self.given_output

    @functools.cached_property
    def watch(self) -> tuple[WatchConfig, ...]:
        return default_watches() if self.given_watch is None else self.given_watch


def config_path() -> Path:
    override = os.environ.get("SAFESHARE_CONFIG")
    return Path(override).expanduser() if override else paths.config_dir() / "config.toml"


def load(path: Path | None = None) -> Config:
    """The configuration at `path` (or the default path); built-in defaults if it is absent.

    A path given explicitly (argument or SAFESHARE_CONFIG) must exist.
    """
    explicit = path is not None or "SAFESHARE_CONFIG" in os.environ
    path = path or config_path()
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: configuration file not found")
        return defaults()
    import tomllib  # imported here: without a config file nothing needs it

    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    return from_table(table, path)


def default_watches() -> tuple[WatchConfig, ...]:
    return tuple(WatchConfig(path, recursive) for path, recursive in paths.default_watches())


def defaults() -> Config:
    return Config(None, None, CleanConfig())


def from_table(table: dict[str, Any], path: Path) -> Config:
    known = {"output", "watch", "clean", "daemon", "notify", "vision"}
    _reject_unknown(table, known, path, "")
    output = _path(table["output"], path, "output") if "output" in table else None
    watch_list = table.get("watch")
    if watch_list is not None and not isinstance(watch_list, list):
        raise ConfigError(f"{path}: 'watch' must be a list of [[watch]] tables")
    watches = (
        None
        if watch_list is None
        else tuple(_build(WatchConfig, w, path, f"watch[{i}].") for i, w in enumerate(watch_list))
    )
    clean = _build(CleanConfig, table.get("clean", {}), path, "clean.")
    daemon = _build(DaemonConfig, table.get("daemon", {}), path, "daemon.")
    notify = _build(NotifyConfig, table.get("notify", {}), path, "notify.")
    vision = _build(VisionConfig, table.get("vision", {}), path, "vision.")
    if vision.redact and not vision.enabled:
        raise ConfigError(
            f"{path}: vision.redact needs vision.enabled = true (with vision off nothing is filled in)"
        )
    return Config(output, watches, clean, daemon, notify, vision, path)


def _reject_unknown(table: dict[str, Any], known: set[str], path: Path, prefix: str) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{path}: unknown key '{prefix}{key}' (known: {', '.join(sorted(known))})")


_T = typing.TypeVar("_T")


def _build(cls: type[_T], table: object, path: Path, prefix: str) -> _T:
    """An instance of dataclass `cls` from a TOML table, every value checked."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: '{prefix.rstrip('.')}' must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    _reject_unknown(table, set(fields), path, prefix)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in table:
            if spec.default is dataclasses.MISSING:
                raise ConfigError(f"{path}: missing key '{prefix}{name}'")
            continue
        values[name] = _value(table[name], hints[name], spec.metadata, path, prefix + name)
    return cls(**values)


_EXPECTED = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}


def _value(raw: object, hint: object, meta: typing.Mapping[str, Any], path: Path, key: str) -> Any:
    if hint is Path:
        return _path(raw, path, key)
    if hint == tuple[str, ...]:
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise ConfigError(f"{path}: '{key}' must be a list of strings, not {raw!r}")
        wrong = [item for item in raw if item not in meta.get("choices", (item,))]
        if wrong:
            raise ConfigError(
                f"{path}: '{key}' may hold {', '.join(map(repr, meta['choices']))}, not {wrong[0]!r}"
            )
        return tuple(raw)
    if not _is_instance(raw, hint):
        raise ConfigError(f"{path}: '{key}' must be {_EXPECTED.get(hint, hint)}, not {raw!r}")  # type: ignore[call-overload]
    if "choices" in meta and raw not in meta["choices"]:
        choices = " or ".join(repr(c) for c in meta["choices"])
        raise ConfigError(f"{path}: '{key}' must be {choices}, not {raw!r}")
    if meta.get("folder_name") and isinstance(raw, str) and ("/" in raw or "\\" in raw or raw in (".", "..")):
        raise ConfigError(f"{path}: '{key}' must be a plain folder name (no slashes), not {raw!r}")
    if isinstance(raw, int | float) and not meta.get("min", raw) <= raw <= meta.get("max", raw):
        bounds = (
            f"between {meta.get('min')} and {meta['max']}" if "max" in meta else f"at least {meta['min']}"
        )
        raise ConfigError(f"{path}: '{key}' must be {bounds}, not {raw!r}")
    return float(raw) if hint is float and isinstance(raw, int) else raw


def _is_instance(raw: object, hint: object) -> bool:
    """TOML types as Python sees them; a bool is not a number here."""
    if hint is bool or hint is str:
        return isinstance(raw, hint)
    if hint is int:
        return isinstance(raw, int) and not isinstance(raw, bool)
    if hint is float:
        return isinstance(raw, int | float) and not isinstance(raw, bool)
    return False


def _path(raw: object, path: Path, key: str) -> Path:
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{path}: '{key}' must be a folder path (a string), not {raw!r}")
    return Path(os.path.expandvars(raw)).expanduser()
