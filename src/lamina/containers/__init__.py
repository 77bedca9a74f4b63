"""Working containers: an image's filesystem materialised under the store, run, changed
and committed back (docs/design.md §8).

    records   the container records under STORE/lamina/containers/ (create, find, remove)
    names     Docker-style random names and the name grammar
    rootfs    materialise an image's layers into a container's root, with its snapshot
    inroot    resolve paths inside a root the way the container sees them (no escape)
    cp        `docker cp` rules between the host and a root
    sandbox   run a command chrooted in new namespaces (root only); launch.py is its PID 1

This package sits above the store, the operations and the transports, and below the
verbs in lamina.api (api/containers.py, api/lifecycle.py), which compose it.
"""
