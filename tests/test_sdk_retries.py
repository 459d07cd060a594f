"""kpiplatform.sdk's retry helpers for connectors: Retry-After honoured, else backoff."""

from __future__ import annotations

import datetime as dt

import pytest

from kpiplatform.sdk import RetryLater, retry_after_seconds, with_retries

NOW = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (2.5, 2.5),
        ("Sun, 01 Mar 2026 12:00:30 GMT", 30.0),
        ("Sun, 01 Mar 2026 11:00:00 GMT", 0.0),  # already past
        ("soon", None),
        (None, None),
        ("", None),
        ("-3", 0.0),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value, seconds):
    assert retry_after_seconds(value, now=NOW) == seconds


def flaky(answers: list):
    """A call that raises the given errors in turn, then returns "done"."""

    def call():
        if answers:
            raise answers.pop(0)
        return "done"

    return call


def test_retry_after_is_waited_for_and_backoff_doubles_without_it():
    waits: list[float] = []
    errors = [RetryLater("429", "3"), RetryLater("503"), RetryLater("503"), RetryLater("429", 0)]
    assert with_retries(flaky(errors), attempts=5, sleep=waits.append) == "done"
    assert waits == [3.0, 2.0, 4.0, 0.0]  # Retry-After, then 1 s doubled from attempt 2


def test_waits_are_capped_and_the_last_error_propagates():
    waits: list[float] = []
    errors = [RetryLater("429", "3600"), RetryLater("429", "3600"), RetryLater("429 again")]
    with pytest.raises(RetryLater, match="429 again"):
        with_retries(flaky(errors), attempts=3, max_delay_s=60, sleep=waits.append)
    assert waits == [60, 60]


def test_other_errors_are_not_retried():
    waits: list[float] = []
    with pytest.raises(ValueError):
        with_retries(flaky([ValueError("bad page")]), sleep=waits.append)
    assert waits == []
