"""Errors an operator sees as one line and an exit code, never as a traceback."""

from __future__ import annotations

EXIT_FAILED = 1  # the operation could not be done (missing stack or queue, no credentials, AWS refused)
EXIT_USAGE = 2  # the command line asks for something impossible (unknown channel, conflicting options)


class OpsError(RuntimeError):
    """A failure to report as one line; `exit_code` is what the command exits with."""

    exit_code = EXIT_FAILED


class UsageError(OpsError):
    exit_code = EXIT_USAGE
