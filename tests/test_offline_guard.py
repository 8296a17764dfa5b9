"""The offline guard: the tests fail if code (here, or in a notebook kernel) reaches for the network."""

from __future__ import annotations

import socket

import nbformat
import pytest

from bertlab._offline import NetworkBlocked
from tools.nbtools import execute


def test_guard_blocks_a_non_loopback_connection_in_the_test_process():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkBlocked, match="offline guard"):
            s.connect(("93.184.216.34", 80))
    finally:
        s.close()


def test_guard_blocks_name_lookups_of_remote_hosts_but_not_localhost():
    with pytest.raises(NetworkBlocked, match="huggingface.co"):
        socket.getaddrinfo("huggingface.co", 443)
    assert socket.getaddrinfo("localhost", 80)


def test_loopback_still_works():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.socket()
    client.connect(server.getsockname())
    assert client.getpeername() == server.getsockname()  # connected to our own loopback server
    client.close()
    server.close()


@pytest.mark.notebook
def test_guard_is_active_inside_notebook_kernels():
    nb = nbformat.v4.new_notebook()
    source = "import urllib.request\nurllib.request.urlopen('https://cdn.jsdelivr.net', timeout=5)"
    nb.cells = [nbformat.v4.new_code_cell(source)]
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError, match="offline guard"):
        execute(nb)
