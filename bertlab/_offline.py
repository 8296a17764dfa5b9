"""Offline guard used by the tests: any non-loopback network access raises at once.

``install()`` patches ``socket`` so that connecting, sending to or resolving a non-loopback address
raises :class:`NetworkBlocked` naming the address. The tests install it in their own process and, via a
temporary ``IPYTHONDIR`` startup file, in every notebook kernel they start (see ``tests/conftest.py``).
Kernels talk to Jupyter over loopback ZMQ, which stays allowed.
"""

from __future__ import annotations

import ipaddress
import socket

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


class NetworkBlocked(RuntimeError):
    """Raised when code tries to reach the network while the course runs offline."""


def _is_loopback(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]")
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _host_of(address):
    if isinstance(address, tuple) and address:
        return address[0]
    return None  # AF_UNIX paths and the like are local


def _refuse(what: str, target) -> None:
    raise NetworkBlocked(
        f"bertlab offline guard: {what} {target!r} refused — the course must run without the network "
        "(no model hub, no dataset download, no CDN)."
    )


def install() -> None:
    """Make non-loopback network use raise :class:`NetworkBlocked` in this process (idempotent)."""
    if getattr(socket, "_bertlab_offline", False):
        return
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_getaddrinfo, real_gethostbyname = socket.getaddrinfo, socket.gethostbyname

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(_host_of(address)):
            _refuse("connection to", address)
        return real_connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(_host_of(address)):
            _refuse("connection to", address)
        return real_connect_ex(self, address)

    def sendto(self, data, *args):
        address = args[-1]
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(_host_of(address)):
            _refuse("datagram to", address)
        return real_sendto(self, data, *args)

    def getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            _refuse("name lookup of", host)
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host):
        if not _is_loopback(host):
            _refuse("name lookup of", host)
        return real_gethostbyname(host)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.socket.sendto = sendto
    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket._bertlab_offline = True  # type: ignore[attr-defined]
