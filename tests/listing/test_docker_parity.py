"""`--format`, `--filter`, `history -q`, `inspect -f`, `system df`: lamina against the REAL
docker 20.10 CLI on the same images.

Both load the same docker-archive (local/base:1 and local/stack:1..3, made by Docker),
retag local/stack:3 onto local/stack:2 (the old stack:3 becomes a dangling `<none>`)
and create one container of local/stack:2; then the same command runs through both
and the outputs are compared. Columns with times ("3 hours ago") are left out where
Docker and lamina may round differently; everything else must match byte for byte.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lamina_cli import run_lamina

Pair = tuple[Any, Path]  # (the session's Docker, a lamina store holding the same images)


@pytest.fixture(scope="module")
def pair(docker: Any, fixtures: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    docker.reset()
    store = tmp_path_factory.mktemp("listing") / "store"
    archive = str(fixtures["docker-legacy-multi"].path)
    for args in (
        ("load", "-i", archive),
        ("tag", "local/stack:2", "local/stack:3"),
        ("create", "--name", "parity1", "local/stack:2", "sh"),
    ):
        docker.run(*args)
        assert run_lamina(store, *args).returncode == 0
    yield docker, store
    docker.reset()


def both(pair: Pair, *args: str) -> tuple[str, str]:
    docker, store = pair
    theirs = docker.run(*args).stdout
    ours = run_lamina(store, *args)
    assert ours.returncode == 0, ours.stderr.decode()
    return theirs, ours.stdout.decode()


def same(pair: Pair, *args: str, ordered: bool = False) -> str:
    theirs, ours = both(pair, *args)
    if ordered:
        assert ours == theirs
    else:  # Docker's order among images created in the same second is not defined
        assert sorted(ours.splitlines()) == sorted(theirs.splitlines())
    return ours


@pytest.mark.parametrize(
    "template",
    [
        "{{.ID}} {{.Repository}}:{{.Tag}}",
        "{{.Repository}}\\t{{.Digest}} {{.Size}} {{.VirtualSize}} {{.CreatedAt}}",
        "{{json .Repository}} {{upper .Tag}} {{lower .ID}} {{.Containers}}/{{.UniqueSize}}",
    ],
)
def test_images_format(pair: Pair, template: str) -> None:
    assert same(pair, "images", "--format", template)


def test_images_table_format_is_aligned_as_docker(pair: Pair) -> None:
    template = "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Size}}"
    out = same(pair, "images", "-a", "--format", template)
    assert out.splitlines()[0] == "REPOSITORY    TAG       IMAGE ID       SIZE"
    # the usual table is Docker's default template (CREATED's wording aside: humanize.ago)
    theirs, ours = both(pair, "images")
    cut = lambda text: sorted(r.split()[:3] for r in text.splitlines())  # noqa: E731
    assert cut(ours) == cut(theirs)
    assert both(pair, "images", "--format", "table")[1] == ours
    assert both(pair, "image", "ls")[1] == ours  # image ls is images


def test_images_json_rows(pair: Pair) -> None:
    theirs, ours = both(pair, "images", "--no-trunc", "--format", "{{json .}}")
    mine = [json.loads(line) for line in ours.splitlines()]
    docker = [json.loads(line) for line in theirs.splitlines()]
    assert [sorted(r) for r in mine] == [sorted(r) for r in docker]
    drop = ("CreatedSince",)
    key = lambda r: (r["Repository"], r["Tag"])  # noqa: E731
    assert sorted(({**r, **dict.fromkeys(drop)} for r in mine), key=key) == sorted(
        ({**r, **dict.fromkeys(drop)} for r in docker), key=key
    )
    assert "\\u003cnone\\u003e" in ours  # json.Marshal's HTML escaping, as Docker's


@pytest.mark.parametrize(
    "filters",
    [
        ("dangling=true",),
        ("dangling=false",),
        ("reference=local/*:[12]",),
        ("reference=*/stack",),
        ("reference=stack",),
        ("reference=local/base", "reference=local/stack:1"),
        ("before=local/stack:2",),
        ("since=local/base:1", "before=local/stack:2"),
        ("label=io.buildah.version",),
        ("label=io.buildah.version=1.28.2", "dangling=false"),
        ("label=io.buildah.version=0",),
    ],
)
def test_images_filter(pair: Pair, filters: tuple[str, ...]) -> None:
    args = [a for f in filters for a in ("--filter", f)]
    same(pair, "images", *args, "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")
    same(pair, "images", "-q", *args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("images", "--filter", "foo=bar"), "Invalid filter 'foo'"),
        (("images", "-f", "dangling=maybe"), "Invalid filter 'dangling=[maybe]'"),
        (("ps", "-a", "-f", "foo=1"), "Invalid filter 'foo'"),
        (("image", "prune", "-f", "--filter", "foo=1"), "Invalid filter 'foo'"),
        (("container", "prune", "-f", "--filter", "foo=1"), "Invalid filter 'foo'"),
        (
            ("images", "--format", "{{.Foo}}"),
            'template: :1:2: executing "" at <.Foo>: '
            "can't evaluate field Foo in type *formatter.imageContext",
        ),
        (
            ("inspect", "-f", "{{.Config.Foo}}", "local/stack:2"),
            'template: :1:9: executing "" at <.Config.Foo>: map has no entry for key "Foo"',
        ),
        (("images", "--format", "{{.ID}"), "template: :1: bad character U+007D '}'"),
    ],
)
def test_errors_in_dockers_words(pair: Pair, args: tuple[str, ...], message: str) -> None:
    docker, store = pair
    theirs = docker.run(*args, check=False)
    if (
        args[:2] == ("image", "prune")
        and b"--force" not in run_lamina(store, *args[:2], "-h").stdout
    ):
        args = tuple(a for a in args if a != "-f")  # image prune -f: another branch's work
    ours = run_lamina(store, *args)
    assert theirs.returncode != 0 and message in theirs.stderr
    assert ours.returncode == 2, ours.stderr
    assert ours.stderr.decode() == f"lamina: error: {message}\n"


def test_history(pair: Pair) -> None:
    template = "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}|{{.CreatedAt}}"
    for ref in ("local/stack:2", "local/base:1"):
        same(pair, "history", "--format", template, ref, ordered=True)
        same(pair, "history", "-q", ref, ordered=True)
        same(pair, "history", "-q", "--no-trunc", ref, ordered=True)
        same(pair, "history", "--no-trunc", "-H=false", "--format", template, ref, ordered=True)
        same(pair, "history", "--format", "table {{.ID}}\\t{{.Size}}", ref, ordered=True)
        same(pair, "image", "history", "--format", "{{json .Size}}", ref, ordered=True)


@pytest.mark.parametrize(
    "template",
    [
        "{{.Id}}",
        "{{.Id}} {{.Parent}} {{.Size}} {{index .RepoTags 0}} {{.Os}}/{{.Architecture}}",
        "{{json .RootFS}} {{len .RootFS.Layers}}",
        '{{.Config.Env}} {{.Config.Labels}} {{join .Config.Cmd ","}}',
        "{{range .RootFS.Layers}}{{.}}\\n{{end}}",
        "{{json .ContainerConfig}}",
        '{{if .Config.Labels}}{{index .Config.Labels "io.buildah.version"}}{{end}}',
    ],
)
def test_inspect_format(pair: Pair, template: str) -> None:
    same(pair, "inspect", "--format", template, "local/stack:2", "local/base:1", ordered=True)
    same(pair, "image", "inspect", "-f", template, "local/stack:1", ordered=True)


def test_inspect_config_json_byte_for_byte(pair: Pair) -> None:
    for ref in ("local/stack:2", "local/base:1"):
        same(pair, "inspect", "-f", "{{json .Config}}", ref, ordered=True)


def test_container_listing_and_inspect(pair: Pair) -> None:
    fmt = "{{.Names}} {{.Image}} {{.Command}} {{.State}} {{.Status}} {{.Labels}}"
    same(pair, "ps", "-a", "--format", fmt)
    same(pair, "ps", "-a", "-f", "ancestor=local/stack:1", "-f", "status=created", "--format", fmt)
    same(pair, "ps", "-a", "-f", "name=parity", "-f", "exited=0", "--format", fmt)
    same(pair, "container", "ls", "-a", "-f", "label=io.buildah.version", "--format", fmt)
    theirs, ours = both(pair, "ps", "-a", "--format", "{{json .}}")
    assert sorted(json.loads(ours)) == sorted(json.loads(theirs))
    template = "{{.Name}} {{.Path}} {{.Args}} {{.State.Status}} {{.State.Running}} {{.Config.Cmd}}"
    same(pair, "inspect", "-f", template, "parity1", ordered=True)
    same(pair, "container", "inspect", "-f", template, "parity1", ordered=True)
    theirs, ours = both(pair, "inspect", "parity1")
    assert set(json.loads(ours)[0]) <= set(json.loads(theirs)[0])
    assert set(json.loads(ours)[0]["State"]) == set(json.loads(theirs)[0]["State"])


def test_system_df(pair: Pair) -> None:
    theirs, ours = both(pair, "system", "df")
    assert ours.splitlines()[0] == theirs.splitlines()[0]  # the header, spaces and all
    rows = lambda text: [line.split()[:2] for line in text.splitlines()]  # noqa: E731
    assert rows(ours) == rows(theirs)  # types, and TOTAL of each
    same(pair, "system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}", ordered=True)
    images = '{{if eq .Type "Images"}}{{json .}}{{end}}'
    same(pair, "system", "df", "--format", images, ordered=True)
    theirs, ours = both(pair, "system", "df", "-v")
    assert cells(ours) == cells(theirs)


def cells(verbose_df: str) -> list[list[str]]:
    """The image rows of `system df -v` as cells, CREATED left out, sorted."""
    head, _, _ = verbose_df.partition("Containers space usage:")
    rows = [re.split(r"\s{2,}", line.strip()) for line in head.splitlines()[2:] if line]
    return sorted(r[:3] + r[4:] for r in rows)
