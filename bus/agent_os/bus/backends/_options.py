"""Backend options: one reading of a bus URL's query and of ``connect``'s keywords.

Each backend names its options and their types; :func:`parse_options`
merges the URL's query with the keyword arguments (keywords win), converts
each value, and refuses an unknown name or a bad value with the same
:class:`~agent_os.bus.ConfigError` texts on every backend::

    unknown <scheme>:// option 'colour'; valid: ...
    invalid <scheme>:// option max_payload='big': ...

Options meant for the client library (``pass_on``) are returned apart,
unconverted, for the backend to hand over.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._errors import ConfigError

#: The type an option converts to.
Kind = type[bool] | type[int] | type[float] | type[str]

#: Query options whose values an error message or a log line must not show.
_SECRET_WORDS = ("pass", "token", "secret", "key", "seed", "credential")

_BOOLS = {"1": True, "true": True, "yes": True, "on": True}
_BOOLS.update({"0": False, "false": False, "no": False, "off": False})


def parse_options(
    url: str,
    given: Mapping[str, Any],
    kinds: Mapping[str, Kind],
    *,
    pass_on: Collection[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(ours, theirs)``: the backend's options, typed, and the client library's."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    merged: dict[str, Any] = dict(parse_qsl(parts.query))
    merged.update(given)
    ours: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    for name, value in merged.items():
        kind = kinds.get(name)
        if kind is None:
            if name in pass_on:
                theirs[name] = value
                continue
            valid = ", ".join(kinds)
            also = f"; for the client library: {', '.join(sorted(pass_on))}" if pass_on else ""
            raise ConfigError(f"unknown {scheme}:// option {name!r}; valid: {valid}{also}")
        try:
            ours[name] = _convert(kind, value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid {scheme}:// option {name}={value!r}: {exc}") from exc
    return ours, theirs


def _convert(kind: Kind, value: Any) -> Any:
    if kind is str and isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() not in _BOOLS:
            raise ValueError(f"expected one of {', '.join(_BOOLS)}")
        return _BOOLS[str(value).lower()]
    if kind is not str and isinstance(value, bool):
        raise TypeError("expected a number, not a bool")
    return kind(value)


def redacted(url: str) -> str:
    """``url`` as errors and logs may show it: no password, no secret-looking option values."""
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hosts = netloc.rpartition("@")
    if at:  # a user and password, or a token alone (nats://TOKEN@host)
        user = f"{userinfo.split(':', 1)[0]}:" if ":" in userinfo else ""
        netloc = f"{user}***@{hosts}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    hidden = [(k, "***" if any(w in k.lower() for w in _SECRET_WORDS) else v) for k, v in query]
    shown = urlencode(hidden, safe="*,") if query else parts.query
    return urlunsplit(parts._replace(netloc=netloc, query=shown))
