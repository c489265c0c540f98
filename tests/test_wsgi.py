"""smsworks.wsgi as a server's worker loads it."""

import subprocess
import sys

PROBE = """
import gc, sys
import smsworks.wsgi
print(gc.get_freeze_count(), len(gc.get_objects()), int("inbox.views" in sys.modules))
"""


def test_a_worker_leaves_what_it_loaded_out_of_the_collectors_walks():
    """Everything loaded at startup, the URLconf and the views included, is in the
    permanent generation: a full collection walks only what requests made since."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    frozen, tracked, views_loaded = map(int, result.stdout.split())
    assert views_loaded
    assert frozen > 50_000
    assert tracked < 2_000
