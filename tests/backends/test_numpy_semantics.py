"""The MXNet backend runs under the chapter's ``npx.set_np()``, which MXNet keeps per thread:
the backend must work from any thread (Ray's, compare.py's, a notebook's), and switching it on
must change nothing for PyTorch in the same process."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from common.config import LossWeights, TransferConfig
from common.targets import compute_targets

from ..conftest import SIZE, cpu_backend, require, synthetic_image

ROOT = Path(__file__).resolve().parents[2]


def test_the_mxnet_backend_gives_the_same_numbers_from_a_thread_that_never_set_np():
    require("mxnet")
    backend = cpu_backend("mxnet")
    config = TransferConfig(size=SIZE)
    images = synthetic_image(1), [synthetic_image(2)]
    start, targets = compute_targets(backend, *images, config)
    backend.use_targets(targets, LossWeights())
    here = backend.evaluate(start)
    seen = {}

    def elsewhere():
        from mxnet import npx

        seen["np before"] = npx.is_np_array()
        _, fresh_targets = compute_targets(backend, *images, config)
        backend.use_targets(fresh_targets, LossWeights())
        seen["result"] = backend.evaluate(start)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert seen["np before"] is False  # the new thread starts in the legacy dialect ...
    terms, gradient = seen["result"]  # ... and the backend switches it on for itself
    assert terms == here[0]
    np.testing.assert_array_equal(gradient, here[1])


PROBE = """
import numpy as np
from common.config import LossWeights, TransferConfig
from common.registry import load_backend
from common.targets import compute_targets
from common.weights import random_weights
from tests.conftest import SIZE, synthetic_image

weights = random_weights(0, 29)
torch_backend = load_backend("torch")(weights, last_layer=29)
config = TransferConfig(size=SIZE)
start, targets = compute_targets(torch_backend, synthetic_image(1), [synthetic_image(2)], config)
torch_backend.use_targets(targets, LossWeights())
before = torch_backend.evaluate(start)
load_backend("mxnet")(weights, last_layer=29).preprocess(synthetic_image(1))  # set_np in this thread
from mxnet import npx
assert npx.is_np_array()
after = torch_backend.evaluate(start)
fresh_backend = load_backend("torch")(weights, last_layer=29)
fresh_backend.use_targets(targets, LossWeights())
fresh = fresh_backend.evaluate(start)
assert before[0] == after[0] == fresh[0], (before[0], after[0], fresh[0])
assert np.array_equal(before[1], after[1]) and np.array_equal(before[1], fresh[1])
print("same")
"""


def test_set_np_changes_nothing_for_pytorch_in_the_same_process():
    """In a fresh process, so that set_np is first switched on between the two PyTorch runs."""
    require("mxnet")
    require("torch")
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "same", done.stderr[-2000:]
