"""Envelope <-> Redis stream entry fields, error translation and Lua scripts.

An entry carries the envelope as separate fields (measured: about as cheap as
one :func:`~agent_os.bus.encode` frame, and readable with ``XRANGE``):
``b`` body (raw bytes), ``i`` id, ``r`` reply_to, ``c`` correlation_id,
``k`` key, ``d`` deadline (``repr`` of the float), ``h:<name>`` one header.
The subject is the stream key minus the prefix and is not stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    NoPermissionError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .._envelope import Envelope
from .._errors import BusError, ConnectError, MalformedEnvelope, auth_refused

_HEADER = b"h:"


def entry_fields(envelope: Envelope, extra: dict[str, str] | None = None) -> list[Any]:
    """The flat field/value list of ``XADD`` for ``envelope``."""
    fields: list[Any] = [b"b", envelope.body, b"i", envelope.id]
    if envelope.reply_to is not None:
        fields += (b"r", envelope.reply_to)
    if envelope.correlation_id is not None:
        fields += (b"c", envelope.correlation_id)
    if envelope.key is not None:
        fields += (b"k", envelope.key)
    if envelope.deadline is not None:
        fields += (b"d", repr(envelope.deadline))
    headers = dict(envelope.headers)
    if extra:
        headers.update(extra)
    for name, value in headers.items():
        fields += ("h:" + name, value)
    return fields


def pairs(flat: list[bytes]) -> Iterable[tuple[bytes, bytes]]:
    """Field/value pairs of a raw (RESP2 flat list) stream entry."""
    it = iter(flat)
    return zip(it, it, strict=False)


def stream_entries(reply: Any) -> list[Any]:
    """The entries of a one-stream ``XREAD``/``XREADGROUP`` reply (RESP3 map or RESP2 list)."""
    if isinstance(reply, dict):
        for entries in reply.values():
            return list(entries)
        return []
    return list(reply[0][1])


def decode_entry(subject: str, fields: Iterable[tuple[bytes, bytes]]) -> Envelope:
    """Rebuild the envelope of one stream entry; ``MalformedEnvelope`` if it is not one."""
    body: bytes | None = None
    msg_id: str | None = None
    reply_to = correlation_id = key = None
    deadline: float | None = None
    headers: dict[str, str] = {}
    try:
        for name, value in fields:
            if name == b"b":
                body = value
            elif name == b"i":
                msg_id = value.decode()
            elif name == b"r":
                reply_to = value.decode()
            elif name == b"c":
                correlation_id = value.decode()
            elif name == b"k":
                key = value.decode()
            elif name == b"d":
                deadline = float(value)
            elif name.startswith(_HEADER):
                headers[name[2:].decode()] = value.decode()
    except (ValueError, UnicodeDecodeError, AttributeError) as exc:
        raise MalformedEnvelope(f"stream entry on {subject!r} is not an envelope: {exc}") from exc
    if body is None or msg_id is None:
        raise MalformedEnvelope(f"stream entry on {subject!r} lacks a body or an id")
    return Envelope(subject, body, headers, msg_id, reply_to, correlation_id, key, deadline)


def translate(exc: BaseException, what: str) -> BusError:
    """The bus error for a redis-py (or socket) exception raised while doing ``what``."""
    if isinstance(exc, AuthenticationError | AuthorizationError | NoPermissionError):
        return auth_refused(f"redis refused {what}: {exc}")
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError):
        return ConnectError(f"redis unreachable during {what}: {exc}")
    if isinstance(exc, ResponseError):
        return BusError(f"redis rejected {what}: {exc}", code="redis_error")
    if isinstance(exc, RedisError):
        return BusError(f"redis failed during {what}: {exc}", code="redis_error")
    return BusError(f"{what} failed: {exc!r}")


#: XADD a reply with MAXLEN ~ and (re)arm the reply stream's TTL in one round trip.
#: KEYS[1] stream; ARGV[1] maxlen, ARGV[2] ttl seconds, ARGV[3..] fields.
REPLY_SCRIPT = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return id
"""

#: Trim what every consumer group of a work stream is done with.
#: An entry is kept while any group still has it pending or has not read it.
#: KEYS[1] stream. Returns the number of entries removed.
TRIM_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local best_ms, best_seq, best = nil, nil, nil
for _, g in ipairs(groups) do
  local name, last
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] end
    if g[i] == 'last-delivered-id' then last = g[i + 1] end
  end
  local p = redis.call('XPENDING', KEYS[1], name)
  local ms, seq
  if p[1] > 0 then
    ms, seq = string.match(p[2], '(%d+)-(%d+)')
    ms, seq = tonumber(ms), tonumber(seq)
  else
    ms, seq = string.match(last, '(%d+)-(%d+)')
    ms, seq = tonumber(ms), tonumber(seq) + 1
  end
  if best == nil or ms < best_ms or (ms == best_ms and seq < best_seq) then
    best_ms, best_seq = ms, seq
    best = string.format('%d-%d', ms, seq)
  end
end
return redis.call('XTRIM', KEYS[1], 'MINID', best)
"""

#: Bound a fan-out-only stream (one no consumer group reads) by length.
#: KEYS[1] stream; ARGV[1] maxlen.
FANOUT_TRIM_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if #redis.call('XINFO', 'GROUPS', KEYS[1]) > 0 then return 0 end
return redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[1])
"""
