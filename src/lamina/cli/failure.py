"""The one error boundary: every failure of every command becomes one line and an exit
code here, never a traceback (as the docker CLI prints one `Error ...` line).

- LaminaError: its own line and code.
- the system failing: disk full (ENOSPC, EDQUOT) says so, exit 1 (a failure that is
  neither the input's nor the request's fault; free space and run it again); a denied
  permission is 9; any other OSError is its strerror and file name, exit 1.
- broken input the parsers did not wrap (tarfile, a decompressor, JSON nested too
  deeply): 5.
- a registry connection failing (httpx): 7.
- anything else is a bug in lamina: one line that says so, exit 1; LAMINA_DEBUG=1
  prints the traceback as well.
"""

from __future__ import annotations

import errno
import os
import traceback
import zlib

from lamina.errors import LaminaError

FULL = (errno.ENOSPC, errno.EDQUOT)
DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)


def _where(exc: OSError) -> str:
    return f" ({exc.filename})" if exc.filename else ""


def describe(exc: BaseException) -> tuple[str, int]:
    """(the line to print after 'lamina: error: ', the exit code) for any failure."""
    if isinstance(exc, LaminaError):
        return exc.one_line(cli=True), exc.exit_code
    if isinstance(exc, OSError) and exc.errno in FULL:
        return (
            f"no space left on the device{_where(exc)}: nothing was changed; "
            "free some space and run it again",
            1,
        )
    if isinstance(exc, OSError) and exc.errno in DENIED:
        return f"permission denied{_where(exc)}: {exc.strerror}", 9
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to read: it is corrupt or hostile", 5
    import tarfile  # (here: every command imports this module, few ever fail this way)

    from lamina.layer import compression

    if isinstance(exc, tarfile.TarError | zlib.error | EOFError) or (
        isinstance(exc, compression.DECOMPRESSION_ERRORS) and compression.damaged(exc)
    ):
        return f"the input is corrupt or truncated ({exc})", 5
    if type(exc).__module__.split(".")[0] in ("httpx", "httpcore"):
        return f"registry connection failed: {exc or type(exc).__name__}", 7
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}{_where(exc)}", 1
    return (
        f"internal error ({type(exc).__name__}: {exc}): this is a bug in lamina; "
        "run again with LAMINA_DEBUG=1 for the traceback and report it",
        1,
    )


def debug_traceback(exc: BaseException) -> str:
    """The traceback, when LAMINA_DEBUG asks for it (else "")."""
    if not os.environ.get("LAMINA_DEBUG"):
        return ""
    return "".join(traceback.format_exception(exc))
