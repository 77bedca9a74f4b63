"""`system check`: verify every blob and reference; find and reclaim what interruptions left.

In the spirit of `git fsck` and `podman system check`. Each problem is one Finding:

    corrupt       a blob whose bytes do not hash to its name (quick: whose size is
                  not the size a manifest gives it)
    missing       a blob a manifest in index.json or a container needs is absent
    broken        an image whose manifest or config cannot be read, or whose config's
                  diff_ids disagree with its manifest's layers
    unreferenced  a blob nothing names (index.json -> manifests -> configs, layers; containers)
    leftover      temp space of a dead process, a dead writer's journal, the trash,
                  a header index (store/headerindex.py) whose layer is gone
    index         a damaged header index of a layer (a cache: only time is lost)

`repair` fixes what is safe, in one store transaction (so under the lock, with a
journal): leftovers are reclaimed, unreferenced blobs (damaged or not) deleted,
damaged header indexes rebuilt.
A damaged image is never silently dropped: `force` removes its index.json entries
(then whatever of its blobs nothing else needs). Without repair the check still
takes the lock, so a writer mid-commit is never mistaken for a leak.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from lamina import digest
from lamina.errors import InvalidInputError, LaminaError
from lamina.spec import Config, Manifest
from lamina.store import journal, tmp, trash
from lamina.store.local import Store, Transaction
from lamina.store.refs import Entry


@dataclass(frozen=True)
class Finding:
    kind: str
    subject: str  # a blob digest, an image's names, a path
    message: str
    size: int = 0
    fixed: bool = False
    image: str = ""  # the manifest of the image it damages, if any


@dataclass
class _Scan:
    findings: list[Finding] = field(default_factory=list)
    declared: dict[str, int] = field(default_factory=dict)  # named blob -> size (-1: unknown)
    damaged: dict[str, str] = field(default_factory=dict)  # manifest -> label
    unnamed: set[str] = field(default_factory=set)

    def add(self, kind: str, subject: str, message: str, size: int = 0, image: str = "") -> None:
        self.findings.append(Finding(kind, subject, message, size, image=image))


def check(
    store: Store,
    held: Mapping[str, str],
    *,
    quick: bool = False,
    repair: bool = False,
    force: bool = False,
) -> list[Finding]:
    """Findings about `store`; `held` maps blobs containers need to who needs them."""
    before = _leftovers(store)
    with store.lock():
        try:
            entries = store.entries()
        except InvalidInputError as exc:  # nothing can be repaired without it
            return [*before, Finding("broken", "index.json", exc.one_line())]
        if not repair:
            return before + _scan(store, entries, held, quick).findings + _indexes(store, False)
    with store.transaction() as tx:  # heals first: leftovers are reclaimed there
        found = [replace(f, fixed=True) for f in before] + _repair(tx, held, quick, force)
        found += _indexes(store, True)  # (those of layers this repair deletes go with them)
    if trash.empty(store.state) is None:
        note = "deleted blobs wait for a reader to finish: the next writer frees them"
        found.append(Finding("leftover", "trash", note, trash.size(store.state), fixed=True))
    return found


def _leftovers(store: Store) -> list[Finding]:
    found = [
        Finding("leftover", str(x.path), "temp space of a dead process", x.size)
        for x in tmp.leftovers(store.tmp_root)
    ]
    listed = journal.pending(store.state)
    if listed is not None:
        found.append(Finding("leftover", "journal", f"an unfinished commit ({len(listed)} blobs)"))
    size = trash.size(store.state)
    if size:
        found.append(Finding("leftover", "trash", "deleted blobs not yet freed", size))
    return found


def _indexes(store: Store, repair: bool) -> list[Finding]:
    """Header index files of layers the store lacks, and damaged ones (see module doc)."""
    found = []
    for diff_id, path in sorted(store.indexes.files()):
        if not diff_id or not store.blobs.has(diff_id):
            if repair:
                path.unlink(missing_ok=True)
            what = "header index of no stored layer"
            found.append(Finding("leftover", str(path), what, fixed=repair))
            continue
        layer = store.blobs.path(diff_id)
        if store.indexes.scan(diff_id, layer.stat().st_size) is None:  # streamed
            if repair:
                with open(layer, "rb") as f:
                    store.indexes.rebuild(diff_id, f)
            found.append(Finding("index", diff_id, "damaged header index", fixed=repair))
    return found


def _repair(tx: Transaction, held: Mapping[str, str], quick: bool, force: bool) -> list[Finding]:
    scan = _scan(tx.store, tx.entries, held, quick)
    dropped = dict(scan.damaged) if force else {}
    for manifest in dropped:
        tx.drop_image(manifest)
    doomed = set(scan.unnamed)
    if dropped:  # and what only the dropped images named
        doomed |= _scan(tx.store, tx.entries, held, quick=True).unnamed
    for dig in doomed:
        tx.delete_blob(dig)
    found = [
        replace(f, fixed=True) if f.image in dropped or f.subject in doomed else f
        for f in scan.findings
    ]
    return found + [
        Finding("removed", label, "damaged image removed (--force)", fixed=True, image=m)
        for m, label in dropped.items()
    ]


def _scan(store: Store, entries: list[Entry], held: Mapping[str, str], quick: bool) -> _Scan:
    scan = _Scan()
    by_manifest: dict[str, list[str]] = {}
    for entry in entries:
        by_manifest.setdefault(entry.manifest.digest, []).append(entry.name)
    users: dict[str, list[str]] = {}
    for manifest in by_manifest:
        for dig in _check_image(store, scan, manifest, label_of(by_manifest, manifest)):
            users.setdefault(dig, []).append(manifest)
    for dig, who in sorted(held.items()):
        if not store.blobs.has(dig):
            scan.add("missing", dig, f"{who} needs it")
    for dig in sorted(store.blobs.all()):
        if _check_blob(store, scan, dig, quick, named=dig in scan.declared or dig in held):
            for manifest in users.get(dig, []):
                scan.damaged[manifest] = label_of(by_manifest, manifest)
    return scan


def label_of(by_manifest: Mapping[str, list[str]], manifest: str) -> str:
    return " ".join(n for n in by_manifest[manifest] if n) or digest.short(manifest, algorithm=True)


def _check_image(store: Store, scan: _Scan, manifest_digest: str, label: str) -> list[str]:
    """Check one image's manifest and config; returns the blobs it names."""
    named = [manifest_digest]
    scan.declared[manifest_digest] = -1
    missing = [manifest_digest] if not store.blobs.has(manifest_digest) else []
    try:
        if not missing:
            manifest = Manifest.parse(store.blobs.path(manifest_digest).read_bytes())
            for desc in (manifest.config, *manifest.layers):
                scan.declared[desc.digest] = desc.size
                named.append(desc.digest)
            missing = [d for d in named if not store.blobs.has(d)]
            if not missing:
                config = Config.parse(store.blobs.path(manifest.config.digest).read_bytes())
                if list(config.diff_ids) != [x.digest for x in manifest.layers]:
                    scan.add(
                        "broken",
                        label,
                        "its config's diff_ids are not its layers",
                        0,
                        manifest_digest,
                    )
                    scan.damaged[manifest_digest] = label
    except (OSError, LaminaError) as exc:
        scan.add("broken", label, f"unreadable manifest or config ({exc})", 0, manifest_digest)
        scan.damaged[manifest_digest] = label
    for dig in missing:
        scan.add("missing", dig, f"image {label} needs it", 0, manifest_digest)
        scan.damaged[manifest_digest] = label
    return named


def _check_blob(store: Store, scan: _Scan, dig: str, quick: bool, named: bool) -> bool:
    """Check one blob's bytes (quick: its size); returns whether it is damaged."""
    path = store.blobs.path(dig)
    size = path.stat().st_size
    if quick:
        bad = scan.declared.get(dig, -1) not in (-1, size)
    else:
        with open(path, "rb") as f:
            bad = digest.of_stream(f)[0] != dig
    if not named:
        scan.unnamed.add(dig)
    if bad:
        why = "an image needs it" if named else "nothing names it"
        scan.add("corrupt", dig, f"its bytes do not match its name ({why})", size)
    elif not named:
        scan.add("unreferenced", dig, "nothing names it", size)
    return bad
