"""The `--format` engine on its own (lamina.cli.template, lamina.cli.formatting).

Expected texts are what Go's text/template and Docker's formatter print for the same
template and data (checked against docker 20.10 where the parity tests cannot reach:
nested ranges, trim markers, Go's %v of maps and nil).
"""

from __future__ import annotations

import pytest

from lamina.cli.formatting import render, tabwrite
from lamina.cli.template import TemplateError, parse
from lamina.cli.template_funcs import Row
from lamina.errors import UsageError

DOC = {
    "Id": "sha256:abc",
    "RepoTags": ["local/a:1", "local/a:2"],
    "Size": 1982260,
    "Config": {"Env": ["A=1", "B=2"], "Labels": {"z": "1", "a": "<2>"}, "Entrypoint": None},
    "Empty": [],
    "Yes": True,
}


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("{{.Id}}", "sha256:abc"),
        ("x {{.Size}} y", "x 1982260 y"),
        ("{{.Config.Env}}", "[A=1 B=2]"),
        ("{{.Config.Labels}}", "map[a:<2> z:1]"),
        ("{{.Config.Entrypoint}}", "<nil>"),
        ("{{.Yes}}", "true"),
        ("{{json .Config.Env}}", '["A=1","B=2"]'),
        ("{{json .Config.Labels}}", '{"z":"1","a":"<2>"}'),  # no HTML escaping, key order kept
        ("{{.Config.Env | json}}", '["A=1","B=2"]'),
        ('{{join .RepoTags ", "}}', "local/a:1, local/a:2"),
        ('{{split "a,b" ","}}', "[a b]"),
        ("{{index .RepoTags 1}}", "local/a:2"),
        ('{{index .Config.Labels "z"}}', "1"),
        ('{{index .Config.Labels "nope"}}', "<no value>"),
        ("{{len .RepoTags}}", "2"),
        ("{{upper .Id}} {{lower `ABC`}} {{title `hello world`}}", "SHA256:ABC abc Hello World"),
        ("{{truncate .Id 6}}|{{pad `x` 1 2}}|", "sha256| x  |"),
        ("{{range .RepoTags}}<{{.}}>{{end}}", "<local/a:1><local/a:2>"),
        ("{{range .Empty}}x{{else}}none{{end}}", "none"),
        ("{{range .Config.Labels}}{{.}};{{end}}", "<2>;1;"),  # a map ranges in key order
        ("{{if .Yes}}y{{else}}n{{end}}{{if .Empty}}y{{else}}n{{end}}", "yn"),
        ('{{if eq .Size 1982260}}big{{end}}{{if ne .Id "x"}}!{{end}}', "big!"),
        ("{{if and .Yes .Empty}}a{{end}}{{if or .Empty .Yes}}o{{end}}{{not .Yes}}", "ofalse"),
        ("a  {{- .Size -}}  b", "a1982260b"),
        ("{{print .Size `x`}}{{println `!`}}", "1982260x!\n"),
        ('{{"quoted \\"s\\""}} {{42}}', 'quoted "s" 42'),
        (
            "{{.}}",
            "map[Config:map[Entrypoint:<nil> Env:[A=1 B=2] Labels:map[a:<2> z:1]] Empty:[] "
            "Id:sha256:abc RepoTags:[local/a:1 local/a:2] Size:1982260 Yes:true]",
        ),
    ],
)
def test_execute(template: str, text: str) -> None:
    assert parse(template).execute(DOC) == text


@pytest.mark.parametrize(
    ("template", "type_name", "message"),
    [
        (
            "{{.Foo}}",
            "*formatter.imageContext",
            'template: :1:2: executing "" at <.Foo>: '
            "can't evaluate field Foo in type *formatter.imageContext",
        ),
        (
            "{{.Foo}}",
            None,
            'template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"',
        ),
        (
            "ab\n {{.Config.Nope}}",
            None,
            'template: :2:10: executing "" at <.Config.Nope>: map has no entry for key "Nope"',
        ),
        (
            "{{.Id.Foo}}",
            None,
            'template: :1:5: executing "" at <.Id.Foo>: can\'t evaluate field Foo in type string',
        ),
        ("{{.Id}", None, "template: :1: bad character U+007D '}'"),
        ("{{.Id", None, "template: :1: unclosed action"),
        ("{{nope .Id}}", None, 'template: :1: function "nope" not defined'),
        ("{{end}}", None, "template: :1: unexpected {{end}}"),
        ("{{range .RepoTags}}x", None, "template: :1: unexpected EOF in range"),
        ("{{$x := 1}}", None, "template: :1: bad character U+0024 '$'"),
        ("{{.Id | }}", None, "template: :1: missing value for command"),
        (
            "{{index .RepoTags 5}}",
            None,
            'template: :1:2: executing "" at <index .RepoTags 5>: '
            "error calling index: index out of range: 5",
        ),
    ],
)
def test_errors_are_one_line_usage_errors(
    template: str, type_name: str | None, message: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        parse(template, type_name).execute(DOC)
    assert str(caught.value) == message
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == 2


def test_no_code_runs() -> None:
    """Attribute access, calls and Python syntax are not part of the language."""
    for template in ("{{.__class__}}", "{{__import__ `os`}}", "{{.Id.upper}}", "{{(1).x}}"):
        with pytest.raises(TemplateError):
            parse(template).execute(DOC)


def test_rows_marshal_as_go_does() -> None:
    row = Row({"b": "<none>", "a": "x&y"})
    assert parse("{{json .}}").execute(row) == '{"a":"x\\u0026y","b":"\\u003cnone\\u003e"}'
    assert parse("{{json .b}}").execute(row) == '"<none>"'


def test_render_table_and_escapes() -> None:
    rows = [Row(ID="e2ba6a781d0e", Size="2B"), Row(ID="635c8eab14c6", Size="1.98MB")]
    headers = {"ID": "IMAGE ID", "Size": "SIZE"}
    assert render("table {{.ID}}\\t{{.Size}}", rows, headers=headers) == (
        "IMAGE ID       SIZE\ne2ba6a781d0e   2B\n635c8eab14c6   1.98MB\n"
    )
    # header functions pass the title through; `table` alone is the command's table
    assert render("table {{json .ID}}", rows[:1], headers=headers) == 'IMAGE ID\n"e2ba6a781d0e"\n'
    assert render("table", rows[:1], headers=headers, table="table {{.Size}}") == "SIZE\n2B\n"
    assert render("{{.ID}}\\n{{.Size}}", rows[:1]) == "e2ba6a781d0e\n2B\n"
    assert render("{{.ID}}\\t", rows[:1], plain=True) == "e2ba6a781d0e\\t\n"  # inspect -f
    assert render("table {{.ID}}", [], headers=headers) == "IMAGE ID\n"


def test_tabwrite_is_gos() -> None:
    # minwidth 10, padding 3; a line's last cell is not padded; columns run over lines
    assert tabwrite("a\tbb\tc\nxxxxxxxxxxxx\ty\tz") == (
        "a              bb        c\nxxxxxxxxxxxx   y         z"
    )
    assert tabwrite("a\tb\nlonger\nc\td") == "a         b\nlonger\nc         d"
    assert tabwrite("x\t\ty") == "x                   y"
