"""Shared pytest setup. The real-peer fixtures (docker, podman, registry, umoci,
fixtures, ...) live in tests/peers.py, loaded here as a plugin."""

pytest_plugins = ["tests.peers"]
