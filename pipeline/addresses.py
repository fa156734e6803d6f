"""Kafka bootstrap addresses (`host:port[,host:port...]`), checked before anything tries to connect.

A malformed address used to surface as "broker unreachable" after a 5 s timeout (exit 4); it is a configuration
mistake (exit 2) and says so at once. Kept free of heavy imports: the CLI's argument parser uses it.
"""

from __future__ import annotations


def bootstrap_problem(text: str) -> str | None:
    """None when `text` is a usable bootstrap list, else what is wrong with it."""
    if not text.strip():
        return "empty bootstrap address (expected HOST:PORT)"
    for part in text.split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host:
            return f"{part.strip()!r} is not HOST:PORT"
        if not port.isdigit() or not 0 < int(port) < 65536:
            return f"{part.strip()!r}: port must be a number from 1 to 65535"
    return None
