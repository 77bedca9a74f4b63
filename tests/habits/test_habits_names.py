"""Names follow Docker's reference grammar exactly: ASCII only, lowercase repository
components, tags `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, whole name <= 255 characters with
docker.io/library/ counted. Checked against `docker tag` on the same table."""

from __future__ import annotations

import pytest

from lamina import reference
from lamina.errors import UsageError
from tests.lamina_cli import run_lamina

A = "a"
TABLE = [
    # name, Docker's reason ("" = accepted)
    ("x:_a", ""),
    ("a__b", ""),
    ("a--b", ""),
    ("a_b-c/d.e", ""),
    ("localhost:5000/a", ""),
    ("my.registry/x/y:1.0", ""),
    (A * 237, ""),
    ("b/" + A * 236, ""),
    ("localhost/" + A * 245, ""),
    (A * 237 + ":" + "t" * 128, ""),
    ("x:ü", "invalid reference format"),
    ("x:٣", "invalid reference format"),
    ("ü", "invalid reference format"),
    ("x:-a", "invalid reference format"),
    ("x:.a", "invalid reference format"),
    ("x:" + "t" * 129, "invalid reference format"),
    ("a___b", "invalid reference format"),
    ("a-", "invalid reference format"),
    ("a..b", "invalid reference format"),
    ("a._b", "invalid reference format"),
    ("a:b:c", "invalid reference format"),
    ("a:", "invalid reference format"),
    ("a b", "invalid reference format"),
    ("a/", "invalid reference format"),
    ("/a", "invalid reference format"),
    ("", "invalid reference format"),
    ("a@sha256:abc", "invalid reference format"),
    ("X:1", "invalid reference format: repository name must be lowercase"),
    ("a/B", "invalid reference format: repository name must be lowercase"),
    ("Foo/a", "invalid reference format: repository name must be lowercase"),
    ("local/A:1", "invalid reference format: repository name must be lowercase"),
    (A * 238, "repository name must not be more than 255 characters"),
    ("localhost/" + A * 246, "repository name must not be more than 255 characters"),
    (
        A * 64,
        f"invalid repository name ({A * 64}), cannot specify 64-byte hexadecimal strings",
    ),
]


def _reason(name: str) -> str:
    try:
        reference.parse(name)
    except UsageError as e:
        head = f'"{name}" is not a valid repository/tag: '
        assert e.message.startswith(head), e.message
        return e.message[len(head) :]
    return ""


@pytest.mark.parametrize(("name", "reason"), TABLE, ids=[n[:20] for n, _ in TABLE])
def test_reference_grammar_is_dockers(name: str, reason: str) -> None:
    assert _reason(name) == reason


def test_docker_tag_agrees_on_the_whole_table(docker, tmp_path) -> None:
    """`docker tag IMAGE NAME` accepts and refuses the same names, with the same reason."""
    docker.run("pull", "--help")  # daemon up
    docker.run("import", "-", "local/names:1", input=_empty_tar(), text=False)
    for name, reason in TABLE:
        out = docker.run("tag", "local/names:1", name, check=False)
        if not reason:
            assert out.returncode == 0, (name, out.stderr)
        else:
            assert out.returncode == 1, name
            assert out.stderr.strip().endswith(f"is not a valid repository/tag: {reason}"), (
                name,
                out.stderr,
            )


def test_lamina_tag_refuses_with_dockers_words(tmp_path) -> None:
    store = tmp_path / "store"
    assert run_lamina(store, "import", "-", "local/names:1", input=_empty_tar()).returncode == 0
    out = run_lamina(store, "tag", "local/names:1", "x:ü")
    assert out.returncode == 2
    assert 'lamina: error: "x:ü" is not a valid repository/tag: invalid reference format' in (
        out.stderr.decode()
    )
    assert run_lamina(store, "tag", "local/names:1", A * 237).returncode == 0


def _empty_tar() -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    return buf.getvalue()
