"""A layer as everything in cairn holds it: its diff_id (the digest of its uncompressed tar)
and a descriptor of its bytes. Where those bytes are (an unpacked snapshot, a stored blob,
or a registry known to hold the blob) is answered by registry/layer_sources.py."""

from __future__ import annotations

from runtime.record import Record, record

from . import oci
from .digest import Digest


@record
class Layer(Record):
    diff_id: Digest
    descriptor: oci.Descriptor  # uncompressed (digest = diff_id) when held here; else a compressed blob
    keyonly: bool = False       # from a key-only cache record: its bytes may be nowhere
