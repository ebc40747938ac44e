"""The range of each option that sets no field of the configuration, one table per script (a
field's own rules are ``TransferConfig.validate``'s): "FLAG must be RULE, not VALUE", the same
words in every script. ``preflight.py`` checks run.py's, compare.py's, bench.py's and batch.py's;
web.py checks its own before it listens."""
from __future__ import annotations

from common.registry import backend_names

from .options import Limit, at_least, not_negative, positive


def named_backends(text: str) -> list[str]:
    """bench.py's ``--backends``, comma-separated, as a list of names."""
    return [name.strip() for name in text.split(",") if name.strip()]


_GIB = positive("number of GiB")
_BACKENDS = Limit(lambda text: bool(named_backends(text)) and set(named_backends(text)) <= set(backend_names()),
                  f"one or more of {', '.join(backend_names())}, separated by commas")

RUN_LIMITS: dict[str, Limit] = {"--save-every": at_least(0, " (0: never)"), "--checkpoint-every": at_least(1),
                                "--max-memory": _GIB}
COMPARE_LIMITS: dict[str, Limit] = {"--timing-steps": at_least(1), "--max-memory": _GIB}
BENCH_LIMITS: dict[str, Limit] = {"--backends": _BACKENDS, "--steps": at_least(1), "--warmup": at_least(0),
                                  "--pairs": at_least(1), "--cap": positive()}
# bench.py memory's --sizes, as typed ("200x300 600x900"): its model's slope needs two points.
MEMORY_SIZES = Limit(lambda typed: len(set(typed.split())) >= 2, "two different sizes or more for memory")
BATCH_LIMITS: dict[str, Limit] = {"--cpus": at_least(1), "--workers": at_least(1),
                                  "--cpus-per-task": not_negative(), "--gpus-per-task": not_negative(),
                                  "--max-memory": _GIB}
WEB_LIMITS: dict[str, Limit] = {"--port": Limit(lambda port: 0 <= port <= 65535,
                                                "a whole number from 0 to 65535 (0: any free port)"),
                                "--max-upload-mb": positive("number of MiB"), "--max-pixels": at_least(1)}
