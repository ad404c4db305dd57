"""Writing a host and port as a ZeroMQ TCP endpoint, IPv6 included."""

from __future__ import annotations


def is_ipv6(host: str) -> bool:
    """An IPv6 address, bare or in brackets: the only hosts with a colon."""
    return ":" in host


def bracketed(host: str) -> str:
    """A host as a ZeroMQ endpoint writes it: an IPv6 address in brackets
    (once), any other host as it is."""
    return f"[{host}]" if is_ipv6(host) and not host.startswith("[") else host


def tcp_endpoint(host: str, port: int) -> str:
    """tcp://host:port, with an IPv6 address in brackets."""
    return f"tcp://{bracketed(host)}:{port}"
