"""One error tree for lamina. Every failure a user can cause is a LaminaError.

Each class carries the process exit code the CLI uses, so scripts can tell
"you asked for something that is not there" from "your input is broken".
Messages are one line: what is wrong, then what to do about it.
"""

from __future__ import annotations


class LaminaError(Exception):
    """Base of every error lamina raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.message}: {self.hint}" if self.hint else self.message


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
