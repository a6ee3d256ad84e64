"""One strict ``from_dict`` for every config dataclass of the engine.

A run stores its resolved config as JSON and a worker rebuilds it; a recipe file or
a ``--set key=value`` on the command line goes the same way. Whatever the source, a
typo must not be silently dropped and a wrong type must not slip through, so
:func:`config_from_dict` refuses unknown keys, missing required keys, wrong types and
booleans given for numbers, naming the field (``train.max_steps: ...``). The
dataclass's own ``__post_init__`` then checks ranges.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


class ConfigError(ValueError):
    """A config is invalid; the message names the field."""


def config_from_dict(cls: type[T], data: Any, *, path: str = "") -> T:
    """Build ``cls`` from JSON-like ``data``, checking every field against its annotation."""
    where = f"{path}: " if path else ""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}a {cls.__name__} must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(str(k) for k in set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}unknown field(s) for {cls.__name__}: {', '.join(unknown)}")
    missing = [
        name
        for name, f in fields.items()
        if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and name not in data
    ]
    if missing:
        raise ConfigError(f"{where}missing field(s) for {cls.__name__}: {', '.join(missing)}")
    hints = get_type_hints(cls)
    values = {
        name: _coerce(hints[name], value, f"{path}.{name}" if path else name)
        for name, value in data.items()
    }
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}{exc}") from None


def config_to_dict(config: Any) -> dict[str, Any]:
    """The JSON-ready dict :func:`config_from_dict` turns back into an equal config."""
    return dataclasses.asdict(config)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(tp: Any, value: Any, path: str) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{path}: {value!r} fits no option")
    if origin in (list, tuple, typing.Sequence):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path}: must be a list, got {type(value).__name__}")
        (item,) = get_args(tp)[:1] or (Any,)
        return [_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: must be a mapping, got {type(value).__name__}")
        return dict(value)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        return config_from_dict(tp, value, path=path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: must be text, got {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{path}: must be {_type_name(tp)}, got {type(value).__name__}")
    return value


def set_option(data: dict[str, Any], dotted: str, raw: str) -> None:
    """Apply ``--set a.b=value`` to a nested dict; the value is parsed as YAML (1, 0.5,
    true, [a, b], text) so types reach :func:`config_from_dict` as written."""
    import yaml

    keys = dotted.split(".")
    if not all(keys):
        raise ConfigError(f"--set {dotted}=…: empty key")
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}=…: {key} is not a mapping")
        node = child
    from cai_web.jsonlimits import yaml_loads

    try:
        node[keys[-1]] = yaml_loads(raw) if raw != "" else ""
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"--set {dotted}: cannot read {raw!r} ({exc})") from None


__all__ = ["ConfigError", "config_from_dict", "config_to_dict", "set_option"]
