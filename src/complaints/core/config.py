"""Typed params: each `params.yaml` section loads into a frozen dataclass, checked on load."""
from __future__ import annotations

import dataclasses
import os
import re
import types
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

T = TypeVar("T")


class _Yaml12FloatLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading `5e-5` as a float as YAML 1.2 (and DVC, which writes `3e-05`) does."""


_Yaml12FloatLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)
_NUMBER_LIKE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class ParamsError(ValueError):
    """A params value is missing, unknown, of the wrong type or out of range."""


def project_root() -> Path:
    """The main checkout's root: DVC sets DVC_ROOT, also for queued experiments in temporary copies."""
    return Path(os.environ.get("DVC_ROOT", Path.cwd())).resolve()


def resolve_path(path: str, root: Path) -> Path:
    """A params path, relative to the project root unless absolute."""
    return Path(path) if Path(path).is_absolute() else root / path


def require(condition: bool, key: str, value: Any, expected: str) -> None:
    """Raise a ParamsError naming the key, its value and what was expected unless `condition`."""
    if not condition:
        raise ParamsError(f"params key '{key}': got {value!r}, expected {expected}")


def require_digest(digest: str, key: str) -> None:
    """A pinned SHA-256 must be 64 lowercase hex digits."""
    require(len(digest) == 64 and all(c in "0123456789abcdef" for c in digest), key, digest, "64 lowercase hex digits")


def _coerce(key: str, value: Any, expected: Any) -> Any:
    """Check `value` against the annotation `expected`; return it in that type."""
    origin = get_origin(expected)
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(expected) if arg is not type(None)]
        if value is None and len(options) < len(get_args(expected)):
            return None
        return _coerce(key, value, options[0])
    if expected is float:
        if isinstance(value, str) and _NUMBER_LIKE.match(value.strip()):
            raise ParamsError(
                f"params key '{key}': got the string {value!r}, expected a number "
                f"(a quoted number is a string: write 5.0e-5 unquoted)"
            )
        require(isinstance(value, (int, float)) and not isinstance(value, bool), key, value, "a number")
        return float(value)
    if expected is int:
        require(isinstance(value, int) and not isinstance(value, bool), key, value, "an integer")
        return value
    if expected is bool:
        require(isinstance(value, bool), key, value, "true or false")
        return value
    if expected is str:
        require(isinstance(value, str) and value != "", key, value, "a non-empty string")
        return value
    if origin is tuple:
        require(isinstance(value, list) and len(value) > 0, key, value, "a non-empty list")
        (item_type, _) = get_args(expected)
        return tuple(_coerce(f"{key}[{i}]", item, item_type) for i, item in enumerate(value))
    if origin is dict:
        require(isinstance(value, dict) and len(value) > 0, key, value, "a non-empty mapping")
        _, value_type = get_args(expected)
        return {str(name): _coerce(f"{key}.{name}", item, value_type) for name, item in value.items()}
    raise TypeError(f"unsupported params annotation {expected!r} for '{key}'")


def from_mapping(cls: type[T], section: str, mapping: Any) -> T:
    """Build dataclass `cls` from one params section, rejecting unknown and missing keys."""
    require(isinstance(mapping, dict), section, mapping, "a mapping")
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise ParamsError(
            f"params section '{section}': unknown key(s) {', '.join(unknown)}; known keys: {', '.join(fields)}"
        )
    hints = get_type_hints(cls)
    values = {}
    for name, field in fields.items():
        key = f"{section}.{name}"
        if name not in mapping:
            if field.default is dataclasses.MISSING:
                raise ParamsError(f"params key '{key}' is missing")
            continue
        values[name] = _coerce(key, mapping[name], hints[name])
    try:
        return cls(**values)
    except ParamsError as error:
        # A dataclass's own checks name keys by its usual section (`SECTION`); a recipe read from another
        # section (`tutorial` holds TrainParams) must name that one.
        home = getattr(cls, "SECTION", section)
        raise ParamsError(str(error).replace(f"'{home}.", f"'{section}.")) from None


def read_params(path: Path) -> dict:
    """The whole params file as a mapping."""
    try:
        with open(path, encoding="utf-8") as stream:
            params = yaml.load(stream, Loader=_Yaml12FloatLoader)
    except FileNotFoundError:
        raise ParamsError(f"params file {path} not found") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"params file {path} is not valid YAML: {error}") from None
    if not isinstance(params, dict):
        raise ParamsError(f"params file {path}: expected a mapping of sections")
    return params


def load_section(path: Path, section: str, cls: type[T]) -> T:
    """Load and check one section of a params file."""
    params = read_params(path)
    if section not in params:
        raise ParamsError(f"params file {path} has no section '{section}'")
    return from_mapping(cls, section, params[section])
