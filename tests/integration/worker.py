"""A Celery worker on the suite's clock: TEST_CLOCK_AHEAD_DAYS moves it as the tests' own."""

import os
import sys
import time

import time_machine
from celery.__main__ import main

if __name__ == "__main__":
    days = int(os.environ.get("TEST_CLOCK_AHEAD_DAYS") or 0)
    if days:
        # A timestamp: a naive datetime would be read in the local time zone (see tests/conftest).
        time_machine.travel(time.time() + days * 86400, tick=True).start()
        time.time()  # a ticking travel starts to tick at its first reading, so read it at once
    sys.exit(main())
