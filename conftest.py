"""pytest set-up shared by the unit tests and nbval."""

import os

# TensorFlow's C++ log lines go to stderr under nbconvert but not under nbval: silence them for both.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NBVAL_OUTPUT_TIMEOUT_S = 120  # nbval waits 5 s per output by default; loading data and replaying runs can take longer


def pytest_collection_modifyitems(items):
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT_S
