"""Django's settings reach past the app: what they change in the process."""

from __future__ import annotations

import os
import time

import providers.django  # noqa: F401  (sets Django up, as any test process that serves it)


def test_django_leaves_the_process_on_utc() -> None:
    # Django sets TZ from TIME_ZONE; its default (America/Chicago) stamped every log line of a
    # test process six hours off.
    assert os.environ["TZ"] == "UTC"
    assert time.strftime("%z", time.localtime()) == "+0000"
