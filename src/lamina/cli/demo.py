"""`lamina demo`: the seed blog post's story, end to end, in a temporary store.

Every step prints the command as a user would type it, then runs that very command
(in this process, through the same `main` the shell uses) so the output is real.
Works on a fresh machine without network or root: containers are changed with
`cp` then, and with `run` when we are root and busybox-static can be run.
"""

from __future__ import annotations

import os
import shlex
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from lamina.cli import demo_base
from lamina.cli import docker as docker_demo
from lamina.cli.app import CONTEXT, cli, load_commands
from lamina.containers.records import remove_tree
from lamina.errors import CommandFailedError


class Narrator:
    """Prints headings, prose and `$ commands`, and runs the commands."""

    def __init__(self, work: Path) -> None:
        self.work = work

    def heading(self, text: str) -> None:
        click.echo("")
        click.secho(f"== {text}", bold=True)

    def say(self, text: str) -> None:
        click.secho(text, dim=True)

    def shell(self, shown: str, action: Callable[[], object] | None = None) -> None:
        click.secho(f"$ {shown}", fg="cyan")
        if action is not None:
            action()

    def lamina(self, *args: str) -> None:
        """Show `lamina ARGS` and run it; a failure stops the demo."""
        from lamina.cli.app import main

        click.secho("$ " + shlex.join(["lamina", *args]), fg="cyan")
        sys.stdout.flush()
        code = main(list(args))
        sys.stdout.flush()
        if code != 0:
            raise CommandFailedError(
                f"the demo step `lamina {shlex.join(args)}` failed (exit {code})"
            )

    def write(self, name: str, text: str) -> None:
        self.shell(f"echo {text.strip()} > {name}", lambda: (self.work / name).write_text(text))

    def sizes(self, *names: str) -> None:
        def show() -> None:
            for name in names:
                click.echo(f"{_du(os.path.getsize(self.work / name))}\t{name}")

        self.shell("du -h --apparent-size " + " ".join(names), show)


def _du(size: int) -> str:
    """A size as `du -h` prints it (powers of 1024, one decimal below 10)."""
    value = float(size)
    for unit in ("", "K", "M", "G"):
        if value < 1024 or unit == "G":
            break
        value /= 1024
    if not unit:
        return str(size)
    return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"


def _command(name: str) -> click.Command | None:
    """The command `name`, its module loaded (the CLI loads a command's module on use)."""
    load_commands(name)
    return cli.commands.get(name)


def _has_option(command: str, option: str) -> bool:
    cmd = _command(command)
    return cmd is not None and any(p.name == option for p in cmd.params)


class Story:
    def __init__(self, n: Narrator, can_run: bool) -> None:
        self.n = n
        self.can_run = can_run

    def change(self, image: str, container: str, filename: str, number: int) -> None:
        """A container of `image` with one new file, made the way this machine allows."""
        if self.can_run:
            cmd = f"echo {number} > /{filename}"
            self.n.lamina("run", "--name", container, image, "sh", "-c", cmd)
            return
        self.n.lamina("create", "--name", container, image)
        self.n.write(filename, f"{number}\n")
        self.n.lamina("cp", filename, f"{container}:/{filename}")

    def base(self) -> None:
        n = self.n
        n.heading("1. A base image")
        busybox = demo_base.static_busybox()
        what = demo_base.write_base_tar(n.work / "base.tar", busybox)
        n.say(f"base.tar was built in Python: {what}.")
        n.lamina("import", "base.tar", "local/base:1", "--change", "ENV PATH=/bin",
                 "--change", 'CMD ["/bin/sh"]')  # fmt: skip
        self.can_run = self.can_run and busybox is not None
        how = "lamina run (we are root)" if self.can_run else "lamina create + cp (not root)"
        n.say(f"Containers will be changed with {how}.")

    def stack(self) -> None:
        n = self.n
        n.heading("2. Three commits: local/stack:1..3")
        image = "local/base:1"
        for i, container in enumerate(("stacking", "stacking1", "stacking2"), 1):
            self.change(image, container, f"file{i}", i)
            n.lamina("commit", container, f"local/stack:{i}")
            image = f"local/stack:{i}"
        self.change(image, "stacking3", "file4", 4)
        n.say("All four files are in the last container (three in images, one in its own layer):")
        n.lamina("export", "stacking3", "-o", "stacking3.tar")
        n.shell("tar -tf stacking3.tar | grep file", self._list_files)

    def _list_files(self) -> None:
        with tarfile.open(self.n.work / "stacking3.tar") as tar:
            for name in tar.getnames():
                if name.lstrip("./").startswith("file"):
                    click.echo(name)

    def tree(self) -> None:
        n = self.n
        n.heading("3. The image stack")
        n.lamina("tree")
        n.lamina("images", "-a")
        n.lamina("history", "local/stack:3")
        n.lamina("ps", "-a")

    def rmi(self) -> None:
        n = self.n
        n.heading("4. Only the topmost image of a stack can go")
        n.lamina("container", "prune", "-f")
        n.say("local/stack:3 depends on local/stack:2, so removing stack:2 only untags it:")
        n.lamina("rmi", "local/stack:2")
        n.lamina("images", "-a")
        n.say("Removing stack:3 deletes it, and the untagged stack:2 nothing needs any more:")
        n.lamina("rmi", "local/stack:3")
        n.lamina("images", "-a")

    def share(self) -> None:
        n = self.n
        n.heading("5. Sharing with Bob: export/import and save/load")
        self.change("local/stack:1", "mystuff", "file2", 2)
        n.lamina("export", "mystuff", "-o", "mystuff.tar")
        n.lamina("save", "-o", "stack1.tar", "local/stack:1")
        n.sizes("mystuff.tar", "stack1.tar")
        n.say("import makes one flat image: the history is gone.")
        n.lamina("--store", "bob", "import", "mystuff.tar", "bob/mystuff:1")
        n.lamina("--store", "bob", "history", "bob/mystuff:1")
        n.say("load keeps the whole stack, its history and (unlike the seed's Docker) its tags.")
        n.lamina("--store", "bob", "load", "-i", "stack1.tar")
        n.lamina("--store", "bob", "tree")

    def delta(self) -> None:
        n = self.n
        n.heading("6. New: save without the base (a delta)")
        if not _has_option("save", "exclude_base"):
            n.say("not available yet")
            return
        n.lamina("save", "--exclude-base", "-o", "stack1-delta.tar", "local/stack:1")
        n.lamina("save", "-o", "base-only.tar", "local/base:1")
        n.sizes("stack1.tar", "stack1-delta.tar")
        n.say("Carol already has the base, so the delta is all she needs:")
        n.lamina("--store", "carol", "load", "-i", "base-only.tar")
        n.lamina("--store", "carol", "load", "-i", "stack1-delta.tar")
        n.lamina("--store", "carol", "images")

    def squash(self) -> None:
        n = self.n
        n.heading("7. New: squash the user layers, keep the base")
        if _command("squash") is None:
            n.say("not available yet")
            return
        n.lamina("commit", "mystuff", "local/mystuff:1")
        n.lamina("squash", "local/mystuff:1", "--base", "local/base:1", "-t", "local/mystuff:sq")
        n.lamina("tree", "local/mystuff:sq")
        n.lamina("history", "local/mystuff:sq")

    def docker(self) -> None:
        """Only with a Docker Engine; its images get lamina-demo/ names, removed at the end."""
        n = self.n
        n.heading("8. New: your Docker Engine as source and destination")
        engine = docker_demo.reachable()
        if engine is None:
            n.say("No Docker Engine is reachable here (DOCKER_HOST, docker context, socket).")
            n.say("With one (local, tcp:// or ssh://USER@HOST), these are the two commands:")
            n.shell("lamina send local/mystuff:1 --to-docker ssh://bob@bobs-host")
            n.shell("lamina squash docker-daemon:local/mystuff:1")
            return
        n.say(f"Docker Engine at {engine}: images named lamina-demo/*, removed at the end.")
        n.lamina("tag", "local/base:1", "lamina-demo/base:1")
        n.lamina("tag", "local/mystuff:1", "lamina-demo/mystuff:1")
        try:
            n.say("Docker has no base yet: all of it goes. Then only the user layers travel:")
            n.lamina("send", "lamina-demo/base:1", "--to-docker")
            n.lamina("send", "lamina-demo/mystuff:1", "--to-docker")
            n.say("Squash it inside Docker: only the new layer is loaded back.")
            n.lamina(
                "squash", "docker-daemon:lamina-demo/mystuff:1", "-t", "lamina-demo/mystuff:sq"
            )
        finally:
            docker_demo.clean_up(
                ("lamina-demo/mystuff:sq", "lamina-demo/mystuff:1", "lamina-demo/base:1")
            )


@cli.command(context_settings=CONTEXT)
@click.option("--keep", is_flag=True, help="Keep the demo's stores and files, and say where.")
def demo(keep: bool) -> None:
    """Walk through the seed's story in a temporary store, narrated.

    A base, three commits, the tree, rmi of stack:2 then stack:3, save/load to
    a second store, export/import; then a save without the base and a squash;
    then, when a Docker Engine is reachable, send into it and squash in it (its
    images are named lamina-demo/* and removed at the end). Needs no network and
    no root (with root, containers run commands).
    """
    work = Path(tempfile.mkdtemp(prefix="lamina-demo-"))
    old_cwd, old_store = os.getcwd(), os.environ.get("LAMINA_STORE")
    n = Narrator(work)
    n.shell(f"cd {work} && export LAMINA_STORE=$PWD/alice")
    os.chdir(work)
    os.environ["LAMINA_STORE"] = str(work / "alice")
    story = Story(n, can_run=os.geteuid() == 0)
    try:
        for step in (story.base, story.stack, story.tree, story.rmi, story.share):
            step()
        story.delta()
        story.squash()
        story.docker()
    finally:
        os.chdir(old_cwd)
        if old_store is None:
            os.environ.pop("LAMINA_STORE", None)
        else:
            os.environ["LAMINA_STORE"] = old_store
        if keep:
            click.echo(f"\nThe demo's files are in {work}")
        else:
            remove_tree(work)
