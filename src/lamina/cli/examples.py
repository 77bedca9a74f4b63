"""Examples for each command's --help, kept in one table (as Docker keeps cobra's
`Example` beside `Long`), so the command modules stay short and every command,
sub-verb and group is covered. `attach` appends a command's examples to its help
unless its docstring has its own; tests/habits walks the whole tree to check that
every command has some. Keys are command paths ("image prune"); entries for commands
that do not exist are ignored, so sub-verbs other modules may add are covered here.
"""

from __future__ import annotations

import click

MARK = "Examples:"

EXAMPLES: dict[str, tuple[str, ...]] = {
    "images": (
        "lamina images                       # tagged images, newest first",
        "lamina images -a local/app          # also untagged parents, one repository",
        "lamina images -q --no-trunc         # full IDs only, for scripts",
        "lamina images --json | jq '.[].Id'",
    ),
    "tag": (
        "lamina tag local/app:3 local/app:latest",
        "lamina tag 3f1c0a9e2b7d localhost:5000/team/app:1.0",
    ),
    "rmi": (
        "lamina rmi local/app:2                  # untag; delete when nothing needs it",
        "lamina rmi local/a:1 local/b:1 nope     # removes a and b, reports nope, exit 3",
        "lamina rmi -f 3f1c0a9e2b7d              # by ID, even with several names",
    ),
    "history": (
        "lamina history local/app:3",
        "lamina history --no-trunc --no-human local/app:3",
        "lamina history --json local/app:3 | jq '.[].CreatedBy'",
    ),
    "inspect": (
        "lamina inspect local/app:3",
        "lamina inspect local/app:3 | jq '.[0].RootFS.Layers'",
    ),
    "tree": (
        "lamina tree                 # every stack in the store",
        "lamina tree local/app:3     # the layers of one image",
    ),
    "image": ("lamina image prune -f", "lamina image prune -a -f"),
    "image ls": ("lamina image ls", "lamina image ls -q"),
    "image rm": ("lamina image rm local/app:2",),
    "image inspect": ("lamina image inspect local/app:3",),
    "image history": ("lamina image history local/app:3",),
    "image save": ("lamina image save -o app.tar local/app:3",),
    "image load": ("lamina image load -i app.tar",),
    "image tag": ("lamina image tag local/app:3 local/app:latest",),
    "save": (
        "lamina save -o app.tar local/app:3",
        "lamina save --exclude-base -o delta.tar local/app:3   # without the base's layers",
        "lamina save --have bob.json -o for-bob.tar local/app:3",
        "lamina save --format oci-archive local/app:3 > app.oci.tar",
    ),
    "create": (
        "lamina create --name box local/base:1 sh -c 'echo hi > /hello'",
        "lamina create local/app:3          # prints the new container's ID",
    ),
    "run": (
        "lamina run --rm local/base:1 cat /etc/os-release",
        "lamina run --name build local/base:1 sh -c 'apk add curl'   # then commit it",
    ),
    "ps": ("lamina ps", "lamina ps -a -q", "lamina ps -a --json"),
    "rm": ("lamina rm box", "lamina rm -f build box     # a running one too"),
    "container": ("lamina container prune -f",),
    "container prune": (
        "lamina container prune -f",
        "echo y | lamina container prune",
    ),
    "container ls": ("lamina container ls -a",),
    "container rm": ("lamina container rm box",),
    "container inspect": ("lamina container inspect box",),
    "commit": (
        "lamina commit box local/app:4",
        "lamina commit -m 'add curl' -c 'CMD [\"curl\"]' build local/curl:1",
        "lamina commit --json box | jq -r .Id",
    ),
    "export": (
        "lamina export -o rootfs.tar box",
        "lamina export box | tar -t",
    ),
    "import": (
        "lamina import rootfs.tar local/flat:1",
        "curl -sL https://example.com/rootfs.tar.gz | lamina import - local/flat:1",
        "lamina import -c 'CMD [\"/bin/sh\"]' rootfs.tar",
    ),
    "diff": (
        "lamina diff local/app:3 local/app:squashed      # exit 0: the same files",
        "lamina diff --json local/app:2 local/app:3",
    ),
    "flatten": (
        "lamina flatten local/app:3 -t local/app:flat",
        "lamina flatten docker-daemon:local/app:3         # in Docker",
    ),
    "rebase": (
        "lamina rebase local/app:3 --onto local/base:2 -t local/app:3-on-2",
        "lamina rebase local/app:3 --base local/base:1 --onto local/base:2",
    ),
    "inventory": (
        "lamina inventory -o mine.json             # give it to the sender",
        "lamina inventory --docker -o docker.json  # what a Docker Engine holds",
    ),
    "expand": (
        "lamina expand delta.tar -o full.tar                 # missing layers from the store",
        "lamina expand delta.tar --from base.tar -o full.tar",
    ),
    "receive": ("lamina send local/app:3 --to 'ssh bob lamina receive'   # runs it there",),
    "pull": (
        "lamina pull localhost:5000/team/app:1",
        "lamina pull --platform linux/arm64 registry.example.com/app:1",
        "lamina pull --json localhost:5000/app@sha256:... | jq -r .Id",
    ),
    "ls": (
        "lamina ls localhost:5000/team/app",
        "lamina ls --json registry.example.com/app | jq -r '.[]'",
    ),
    "digest": (
        "lamina digest localhost:5000/team/app:1",
        "lamina digest --platform linux/arm64 registry.example.com/app:1",
    ),
    "manifest": (
        "lamina manifest localhost:5000/team/app:1 | jq .layers",
        "lamina manifest registry.example.com/app@sha256:... > manifest.json",
    ),
    "config": (
        "lamina config localhost:5000/team/app:1 | jq .config.Env",
        "lamina config --platform arm64 registry.example.com/app:1",
    ),
    "login": (
        "lamina login -u jane registry.example.com",
        'echo "$TOKEN" | lamina login -u jane --password-stdin localhost:5000',
    ),
    "logout": ("lamina logout registry.example.com",),
    "system": ("lamina system check", "lamina system check --repair"),
    "system check": (
        "lamina system check             # re-hash every blob",
        "lamina system check --quick     # sizes only",
        "lamina system check --repair    # reclaim leftovers",
    ),
    "system df": ("lamina system df",),
    "demo": ("lamina demo", "lamina demo --keep   # and say where its stores are"),
}


def attach(group: click.Group, path: str = "") -> None:
    """Append the table's examples to the help of every command below `group`."""
    for name, command in group.commands.items():
        full = f"{path} {name}".strip()
        lines = EXAMPLES.get(full)
        if lines and MARK not in (command.help or ""):
            block = "\n".join(f"  {line}" for line in lines)
            command.help = f"{(command.help or '').rstrip()}\n\n\b\n{MARK}\n{block}"
        if isinstance(command, click.Group):
            attach(command, full)
