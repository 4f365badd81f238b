"""The subject → SQS queue-name mapping of the ``sqs://`` backend (pure functions)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_os.bus.backends._sqs_names import (
    escape_subject,
    fanout_queue_name,
    fanout_queue_prefix,
    is_fanout_of,
    reply_client_id,
    valid_prefix,
    work_queue_name,
)

_SQS_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
subjects = st.text(min_size=1, max_size=300)
tokens = st.text(alphabet="0123456789abcdef", min_size=12, max_size=12)


def test_readable_subjects_stay_readable() -> None:
    assert work_queue_name("agentos", "agentos.v1.action") == "agentos-agentos-v1-action"
    assert work_queue_name("p", "a-b_c.d e") == "p-a_hb_uc-d_20e"
    assert work_queue_name("p", "_inbox.abc123") == "p-_rabc123"
    assert work_queue_name("p", "_inbox.not-an-id") == "p-_uinbox-not_han_hid"


@given(subjects, subjects)
def test_escaping_is_injective(a: str, b: str) -> None:
    if a != b:
        assert escape_subject(a) != escape_subject(b)


@given(subjects, tokens)
def test_every_name_is_a_valid_sqs_name(subject: str, token: str) -> None:
    prefix = "p" * 32
    assert _SQS_NAME.fullmatch(work_queue_name(prefix, subject))
    assert _SQS_NAME.fullmatch(fanout_queue_name(prefix, subject, token))


@given(subjects, subjects, tokens)
def test_fanout_queues_are_found_only_for_their_subject(a: str, b: str, token: str) -> None:
    list_prefix = fanout_queue_prefix("p", a)
    assert is_fanout_of(fanout_queue_name("p", a, token), list_prefix)
    # No work queue ever looks like a fan-out queue, and another subject's
    # fan-out queue is not listed as this one's (unless both names were hashed).
    assert not is_fanout_of(work_queue_name("p", b), list_prefix)
    if a != b and "_z" not in work_queue_name("p", a):
        assert not is_fanout_of(fanout_queue_name("p", b, token), list_prefix)


def test_long_subjects_are_cut_and_hashed_apart() -> None:
    a, b = "x." * 100 + "a", "x." * 100 + "b"
    name_a, name_b = work_queue_name("agentos", a), work_queue_name("agentos", b)
    assert name_a != name_b
    assert len(name_a) <= 66 and "_z" in name_a
    assert len(fanout_queue_name("agentos", a, "0" * 12)) <= 80


def test_tokens_and_prefixes_are_checked() -> None:
    with pytest.raises(ValueError):
        fanout_queue_name("p", "s", "XYZ")
    assert valid_prefix("agent_os-1")
    assert not valid_prefix("agent.os")
    assert not valid_prefix("p" * 33)
    assert reply_client_id("_inbox.abc") == "abc"
    assert reply_client_id("inbox.abc") is None
