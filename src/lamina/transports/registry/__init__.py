"""Registry transport (OCI distribution API): sessions, auth, push and pull.

Knows nothing about the store: pull yields an Image whose layers stream from
the registry; push takes an Image and reports what each blob became.
"""
