"""How many random programs each property test draws, and with which settings.

The suite draws a fixed sample (the same programs on every run: CI must not turn red
by chance). Two environment variables change that:

- `PROGEN_HUNT=N`: a hunt. Every property test draws N fresh programs (random seeds,
  no example database), skipping the shrink phase unless `PROGEN_SHRINK=1`, so a long
  run spends its time on new programs; a failure still prints its program.
- `PROGEN_EXAMPLES=N`: scales the fixed sample (N / 150 times the default counts),
  drawing the same programs on every run unless `HYPOTHESIS_RANDOM=1`.

`python -m pytest tests/test_property*.py --hypothesis-show-statistics` reports how many
programs each test ran. tests/README.md has the command of the long hunt.
"""
import os

from hypothesis import HealthCheck, Phase

HUNT = int(os.environ.get("PROGEN_HUNT", "0"))
_SCALE = int(os.environ.get("PROGEN_EXAMPLES", "150")) / 150


def examples(default: int) -> int:
    """`max_examples` for a property test whose fixed sample is `default` programs."""
    return HUNT if HUNT else max(1, int(default * _SCALE))


def _phases():
    if os.environ.get("NOSHRINK") or (HUNT and not os.environ.get("PROGEN_SHRINK")):
        return [Phase.generate]
    return list(Phase)


SETTINGS = dict(deadline=None, phases=_phases(),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
if HUNT:
    SETTINGS["database"] = None
