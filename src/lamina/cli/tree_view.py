"""How `tree` shows layer stacks: indented lines with the images ending at each layer,
or the same as JSON."""

from __future__ import annotations

from typing import Any

import click

from lamina import digest, humanize
from lamina.api.views import TreeNode


def tree_json(n: TreeNode) -> dict[str, Any]:
    return {
        "ChainId": n.chain_id,
        "DiffId": n.diff_id,
        "Size": n.size,
        "Images": [{"Id": i.id, "RepoTags": list(i.names)} for i in n.images],
        "Children": [tree_json(k) for k in n.children],
    }


def print_tree(n: TreeNode, indent: str) -> None:
    label = ""
    if n.images:
        parts = []
        for img in n.images:
            tags = ", ".join(img.names) if img.names else "<none>"
            parts.append(f"{digest.short(img.id)} Tags: {tags}")
        label = "  " + "; ".join(parts)
    click.echo(f"{indent}└─{digest.short(n.diff_id)} Size: {humanize.size(n.size)}{label}")
    for k in n.children:
        print_tree(k, indent + "  ")
