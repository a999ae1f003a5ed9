"""Talking to OCI distribution registries: pull, push, login (docker's config and helpers).

    transport.py    HTTPS/HTTP choice, CAs, timeouts, retries with backoff, error documents
    auth.py         WWW-Authenticate challenges: Basic and Bearer tokens cached per scope
    credentials.py  ~/.docker/config.json and docker-credential-* helpers
    client.py       the distribution API for one registry: manifests, blobs, uploads
    pull.py         a reference into the store (index -> platform manifest -> blobs)
    push.py         a stored image to a reference (compressed layers, mounts, manifest last)
"""
