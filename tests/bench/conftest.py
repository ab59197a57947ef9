"""The benchmarks live in bench/ (not a package on the path): make `bench.*` importable.

No environment changes here: tests of other packages share the worker process. The end-to-end smoke
test runs the benchmark in a subprocess with its own environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
