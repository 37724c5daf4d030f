"""A subscriber's URL: http(s) only, and not on a private, loopback or link-local address
unless the instance allows it (`STORECRM_WEBHOOKS_ALLOW_PRIVATE_URLS`): a webhook must not
become a way to make the server call into its own network."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from flask import current_app


class UrlRefused(ValueError):
    """`reason` is a code the admin maps to a translated message; `str()` is English for the API."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _forbidden(ip) -> bool:
    if getattr(ip, "ipv4_mapped", None) is not None:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified)


def check_url(url: str, allow_private: bool | None = None) -> str:
    """The URL if it may receive webhooks; raises UrlRefused saying why not. Every address the
    host resolves to is checked (one private answer is enough to refuse)."""
    if allow_private is None:
        allow_private = bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE_URLS"))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("invalid", "Not a valid URL.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused("invalid", "The URL must start with http:// or https:// and name a host.")
    if parts.username or parts.password:
        raise UrlRefused("invalid", "The URL must not carry a user name or password.")
    if allow_private:
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused("unresolvable", f"The host {parts.hostname} does not resolve.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if _forbidden(address):
            raise UrlRefused("private", f"The host {parts.hostname} resolves to a private, loopback or link-local "
                                        f"address ({address}); this instance does not send webhooks there.")
    return url
