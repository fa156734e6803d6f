"""Addresses checked before anything tries to connect or listen: Kafka bootstrap lists (`host:port[,host:port...]`),
which camera sources are network streams, and whether a service's bind address is loopback.

A malformed address used to surface as "broker unreachable" after a 5 s timeout (exit 4); it is a configuration
mistake (exit 2) and says so at once. Kept free of heavy imports: the CLI's argument parser uses it.
"""

from __future__ import annotations

# URL schemes a camera source is a network stream by (FFmpeg opens them); anything else is a file or folder.
STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp"})


def camera_url_problem(source: str) -> str | None:
    """What is wrong with a camera source written as a URL (`scheme://...`); None for a usable one or a path."""
    from urllib.parse import urlsplit

    scheme, sep, _ = source.partition("://")
    if not sep:
        return None
    if scheme.lower() not in STREAM_SCHEMES:
        return f"unsupported camera URL scheme {scheme!r} (streams: {', '.join(sorted(STREAM_SCHEMES))})"
    if not urlsplit(source).hostname or " " in source:
        return f"camera URL has no host: {source!r} (e.g. rtsp://192.0.2.10:554/stream1)"
    return None


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


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach: `localhost`, 127.0.0.0/8, ::1. Never resolves a name (config
    is pure data): any other name, `0.0.0.0`, `::` and the empty string (all interfaces) are not loopback."""
    from ipaddress import ip_address

    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
