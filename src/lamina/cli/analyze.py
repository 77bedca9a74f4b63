"""`lamina analyze`: what each layer costs, and which squash saves the most."""

from __future__ import annotations

import re
from typing import Any

import click
from rich.console import Console

from lamina.api.analyze import Report, analyze_archive
from lamina.api.analyze import analyze as analyze_image
from lamina.cli.analyze_view import TYPE_NAMES, render, render_layer
from lamina.cli.app import CONTEXT, Ctx, cli, emit_json, json_option, pass_ctx
from lamina.errors import CheckFailedError, UsageError
from lamina.humanize import size as human
from lamina.ops.analyze import DirSize, LayerReport
from lamina.transports.docker_engine import is_daemon_ref

_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.I)


def parse_bytes(text: str) -> int:
    """`1000`, `20MB`, `1.5GB`, `64MiB` (kB, MB are decimal as Docker prints them)."""
    m = _SIZE.match(text)
    if not m:
        raise UsageError(f"bad size {text!r}", "use bytes or a unit: 20MB, 1.5GB, 64MiB")
    unit = m.group(2).lower()
    scale = 1024 ** " kmgt".index(unit) if m.group(3) and unit else _UNITS[unit]
    return int(float(m.group(1)) * scale)


def parse_ratio(text: str) -> float:
    """`0.9`, `90`, `90%`: a ratio (a value above 1 is a percentage)."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise UsageError(
            f"bad efficiency {text!r}", "use a ratio (0.9) or a percentage (90%)"
        ) from None
    value = value / 100 if value > 1 or text.strip().endswith("%") else value
    if not 0 <= value <= 1:
        raise UsageError(f"efficiency {text!r} is outside 0..1 (0%..100%)")
    return value


@cli.command(context_settings=CONTEXT)
@click.argument("image", required=False)
@click.option("-i", "--input", "source", metavar="ARCHIVE", help="Analyse an image of an archive.")
@click.option("--layer", type=int, metavar="N", help="List layer N's changes (negative: from top).")
@click.option("--top", default=10, show_default=True, help="How many wasted paths to list.")
@click.option("--advise", default=3, show_default=True, help="How many squash ranges to advise.")
@click.option(
    "--fail-under", metavar="EFFICIENCY", help="Exit 1 if efficiency is below (0.9, 90%)."
)
@click.option("--max-wasted", metavar="BYTES", help="Exit 1 if more is wasted (20MB, 64MiB).")
@json_option
@pass_ctx
def analyze(
    c: Ctx,
    image: str | None,
    source: str | None,
    layer: int | None,
    top: int,
    advise: int,
    fail_under: str | None,
    max_wasted: str | None,
    as_json: bool,
) -> None:
    """Show what each layer of IMAGE costs, what is wasted, and which squash saves most.

    Reads tar headers only: nothing is extracted, file data is never read.

    \b
    Per layer: SIZE, the bytes of its regular files, as `docker history` and dive
    count them (links and directories count 0); ADDED and CHANGED, its files at
    new and at existing paths; REMOVED, the files its whiteouts hide; WASTED, the
    bytes of its files that the final filesystem does not show (overwritten, deleted
    or hidden later; a hardlinked file lives while one of its names does).
    The image: the same sums, and dive's EFFICIENCY score (per path, the smallest
    size it is seen at over the sum of all sizes it is seen at, as
    wagoodman/dive computes it: deleting a file costs its size, deleting a
    directory costs nothing).
    SQUASH ADVICE: for the layers above the base (found as `squash` finds it), the
    contiguous ranges whose squash saves the most; SAVES is exact: the uncompressed
    tar bytes the image loses when `lamina squash --layers A..B` is run.

    IMAGE may be docker-daemon:NAME: read from a Docker Engine (--docker-host, else
    DOCKER_HOST or the docker context) with its tagged ancestors, so the base and
    the advice are those of `lamina squash docker-daemon:NAME`.

    \b
    Examples:
      lamina analyze local/app:3
      lamina analyze docker-daemon:app:3 --fail-under 90%
      lamina analyze local/app:3 --layer -1
      lamina analyze -i app.tar --json
      lamina analyze local/app:3 --fail-under 90% --max-wasted 20MB   # a CI gate
    """
    threshold = parse_ratio(fail_under) if fail_under is not None else None
    ceiling = parse_bytes(max_wasted) if max_wasted is not None else None
    if source is not None:
        report = analyze_archive(source, image=image, layer=layer, top=top, advise=advise)
    elif image is None:
        raise UsageError("analyze needs an IMAGE (or -i ARCHIVE)")
    elif is_daemon_ref(image):
        from lamina.api import docker_reshape  # (the Engine's client: only for its images)

        report = docker_reshape.analyze(
            image, host=c.docker_host, layer=layer, top=top, advise=advise
        )
    else:
        report = analyze_image(c.store, image, layer=layer, top=top, advise=advise)
    if as_json:
        emit_json(layer_json(report) if layer is not None else report_json(report))
    else:
        console = Console(highlight=False)
        (render_layer if layer is not None else render)(console, report)
    gate(report, threshold, ceiling)


def gate(report: Report, threshold: float | None, ceiling: int | None) -> None:
    """dive's CI rules: a one-line reason and exit 1 when the image fails one."""
    a = report.analysis
    if threshold is not None and a.efficiency < threshold:
        raise CheckFailedError(
            f"{report.ref}: efficiency {a.efficiency:.2%} is under --fail-under {threshold:.2%}"
        )
    if ceiling is not None and a.wasted > ceiling:
        raise CheckFailedError(
            f"{report.ref}: {human(a.wasted)} ({a.wasted} bytes) wasted, "
            f"over --max-wasted {human(ceiling)} ({ceiling} bytes)"
        )


def _layer_json(x: LayerReport) -> dict[str, Any]:
    c, h = x.count, x.history
    return {
        "Index": x.index,
        "DiffId": x.diff_id,
        "Base": x.base,
        "CreatedBy": h.created_by if h else None,
        "Comment": h.comment if h else None,
        "Created": h.created if h else None,
        "TarSize": x.tar_size,
        "Size": c.size,
        "Entries": c.entries,
        "Added": c.added,
        "AddedBytes": c.added_bytes,
        "Changed": c.modified,
        "ChangedBytes": c.modified_bytes,
        "Removed": c.removed,
        "RemovedBytes": c.removed_bytes,
        "Wasted": c.wasted,
    }


def _dir_json(d: DirSize) -> dict[str, Any]:
    return {
        "Path": "/" + d.path.lstrip("/"),
        "Size": d.size,
        "Files": d.files,
        "Children": [_dir_json(x) for x in d.children],
    }


def _head(report: Report) -> dict[str, Any]:
    return {
        "Image": report.ref,
        "Id": report.id,
        "Names": list(report.names),
        "Source": report.source,
    }


def report_json(report: Report) -> dict[str, Any]:
    a = report.analysis
    base = {"Name": report.base, "Found": report.base_source, "Layers": a.base_layers}
    return {
        **_head(report),
        "Base": base if report.base else None,
        "Size": a.size,
        "TarSize": sum(x.tar_size for x in a.layers),
        "FinalSize": a.final_size,
        "Wasted": a.wasted,
        "Efficiency": a.efficiency,
        "DiveWasted": a.dive_wasted,
        "Layers": [_layer_json(x) for x in a.layers],
        "WastedPaths": [
            {"Path": "/" + w.path, "By": w.by, "Wasted": w.size, "Files": w.files, "MadeIn": w.made}
            for w in a.wasted_paths
        ],
        "RepeatedPaths": [
            {"Path": "/" + w.path, "Seen": w.seen, "Total": w.total, "Wasted": w.wasted}
            for w in a.repeated_paths
        ],
        "Directories": _dir_json(a.directories),
        "Advice": [
            {
                "Layers": str(x.span),
                "Count": x.span.count,
                "Saves": x.saves,
                "NewLayerSize": x.size,
                "WastedFilesReclaimed": x.reclaimed,
                "Command": command,
            }
            for x, command in zip(a.advice, report.commands, strict=True)
        ],
    }


def layer_json(report: Report) -> dict[str, Any]:
    a = report.analysis
    assert a.focus is not None
    return {
        **_head(report),
        "Layer": _layer_json(a.layers[a.focus]),
        "Changes": [
            {
                "Kind": ch.kind,
                "Path": "/" + ch.path,
                "Size": ch.size,
                "Type": TYPE_NAMES.get(ch.type, "") if ch.type else None,
                "Files": ch.files,
            }
            for ch in a.changes
        ],
    }
