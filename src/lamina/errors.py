"""One error tree for lamina. Every failure a user can cause is a LaminaError.

Each class carries the process exit code the CLI uses, so scripts can tell
"you asked for something that is not there" from "your input is broken".
Messages are one line: what is wrong, then what to do about it.
"""

from __future__ import annotations


class LaminaError(Exception):
    """Base of every error lamina raises on purpose.

    `message` says what is wrong; `hint` what to do, in words that hold for any caller;
    `command` what to do at the command line (see `lamina images -a`), which only the
    CLI shows: a library caller's `str(exc)` never tells it to run a command.
    """

    exit_code = 1

    def __init__(
        self, message: str, hint: str | None = None, *, command: str | None = None
    ) -> None:
        self.message = message
        self.hint = hint
        self.command = command
        super().__init__(self.one_line())

    def one_line(self, *, cli: bool = False) -> str:
        """The message and the hint on one line; with `cli`, the command hint as well."""
        parts = [self.message, self.hint, self.command if cli else None]
        said = [p for p in parts if p]
        return said[0] + "".join(f": {p}" if i == 0 else f"; {p}" for i, p in enumerate(said[1:]))


class UsageError(LaminaError):
    """The request itself is malformed (bad reference, bad range, bad option)."""

    exit_code = 2


class NotFoundError(LaminaError):
    """An image, container, tag or blob that was asked for does not exist."""

    exit_code = 3


class ConflictError(LaminaError):
    """The operation would break a rule (image in use, name taken)."""

    exit_code = 4


class InvalidInputError(LaminaError):
    """Input is corrupt, truncated, malformed or of an unknown kind."""

    exit_code = 5


class DigestMismatchError(InvalidInputError):
    """A blob's bytes do not hash to the digest that names it."""


class UnsafePathError(InvalidInputError):
    """A tar entry would land outside the root it is extracted into."""


class PatchError(InvalidInputError):
    """A layer patch is truncated, corrupt, of an unknown version, or rebuilds the wrong bytes."""


class PatchReferenceError(PatchError):
    """The reference layer given to a patch is not the one the patch was made against."""


class ProtocolError(InvalidInputError):
    """The other side of a transfer did not speak the protocol (or another version of it)."""


class PeerClosed(ProtocolError):
    """The other side of a transfer closed its end before the conversation was over."""


class SenderAborted(LaminaError):
    """The sender of a transfer stopped half-way and said why."""


class CommandFailedError(LaminaError):
    """A command lamina ran failed (a demo step, the receiving end of a transfer).

    Its exit code is passed on when it said one, else 1."""

    def __init__(
        self,
        message: str,
        exit_code: int = 1,
        hint: str | None = None,
        *,
        command: str | None = None,
    ) -> None:
        super().__init__(message, hint, command=command)
        self.exit_code = exit_code


class ReceiverError(CommandFailedError):
    """The receiver could not load what was sent, or went away (its exit code is passed on)."""


class CheckFailedError(LaminaError):
    """An image fails a check the user asked for (`analyze --fail-under`); exit 1, as dive."""


class MissingLayersError(LaminaError):
    """A delta needs layers that the store does not hold."""

    exit_code = 6


class RegistryError(LaminaError):
    """A registry refused or failed a request."""

    exit_code = 7


class AuthError(RegistryError):
    """A registry wants credentials we do not have, or refused ours."""

    exit_code = 8


class PermissionRequiredError(LaminaError):
    """The operation needs privileges (root) that the process lacks."""

    exit_code = 9


class DaemonError(LaminaError):
    """A Docker Engine cannot be reached (socket, TCP, ssh), or refused or failed a request."""

    exit_code = 10
