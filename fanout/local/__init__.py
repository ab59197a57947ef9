"""The embedded local runtime: the whole pipeline on one machine (`fanout local run`).

Library use: `fanout.local.runner.run_local(RunOptions(...)) -> RunResult` (report + the fakes' logs).
"""
