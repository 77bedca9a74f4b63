"""Architecture names: one table for the kernel's names and Go's.

Configs and index platforms name an architecture as Go's GOARCH does (`amd64`, `arm64`,
`386`, `arm` with an OCI variant `v7`/`v6`); the kernel (`uname -m`, Python's
`platform.machine()`) says `x86_64`, `aarch64`, `i686`, `armv7l`. Every place lamina
names or matches an architecture goes through this table, so `import` and `commit` label
an image with the same name `load` and `pull` look for on this host.

Normalising follows containerd's `platforms.Normalize` for the names it knows
(`x86_64`→`amd64`, `aarch64`→`arm64`, `i386`→`386`, `armhf`→`arm/v7`, `armel`→`arm/v6`;
`arm64/v8` is plain `arm64`); unknown names pass through lower-cased. A wanted platform
without a variant matches any variant.

    >>> normalize("x86_64")
    ('amd64', '')
"""

from __future__ import annotations

import platform

# a kernel's or a distribution's name -> (GOARCH, OCI variant)
_ALIASES: dict[str, tuple[str, str]] = {
    "x86_64": ("amd64", ""),
    "x86-64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "armv7l": ("arm", "v7"),
    "armhf": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "armel": ("arm", "v6"),
    "i386": ("386", ""),
    "i486": ("386", ""),
    "i586": ("386", ""),
    "i686": ("386", ""),
}

# GOARCH values (containerd's isKnownArch): a bare `--platform arm64` must name one
KNOWN = frozenset(
    "386 amd64 amd64p32 arm armbe arm64 arm64be ppc64 ppc64le loong64 mips mipsle mips64 "  # noqa: SIM905
    "mips64le mips64p32 mips64p32le ppc riscv riscv64 s390 s390x sparc sparc64 wasm".split()
)


def normalize(architecture: str, variant: str = "") -> tuple[str, str]:
    """The GOARCH name and OCI variant for any name of an architecture."""
    arch = architecture.lower()
    if arch in _ALIASES:
        arch, implied = _ALIASES[arch]
        variant = variant or implied
    if arch == "arm64" and variant == "v8":
        variant = ""  # arm64 has one variant in practice; containerd drops it
    return arch, variant


def host() -> tuple[str, str]:
    """This machine's architecture as (GOARCH, variant), e.g. ("amd64", "")."""
    return normalize(platform.machine())


def host_architecture() -> str:
    """This machine's GOARCH name: what `import` and `commit` write into a config."""
    return host()[0]


def matches(offered: tuple[str, str], wanted: tuple[str, str]) -> bool:
    """Whether an index entry's (architecture, variant) serves the wanted one."""
    arch, variant = normalize(*offered)
    want_arch, want_variant = normalize(*wanted)
    return arch == want_arch and (not want_variant or variant == want_variant)
