"""A TCP relay in front of a broker that a test can shut (connections refused, live ones cut) and reopen.

It lets a test decide when the uplink may reach a broker again, so that the hub's subscriber is back
before the uplink starts re-sending (a broker restarted without persistence forgets subscriptions).

The broker's side of a relayed connection is always closed gracefully (FIN, then read until the broker
closes): amqtt 0.12 leaks the transport of a connection its peer resets (StreamWriterAdapter.close awaits
drain() before close()), which `filterwarnings = error` turns into a failure.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from qmon.embedded_broker import free_port


class _Relay:
    """One client connection relayed to the broker."""

    def __init__(self, gate: TcpGate, client: socket.socket, upstream: socket.socket) -> None:
        self.gate = gate
        self.client = client
        self.upstream = upstream
        self.cut_off = False
        self._running = 2
        self._lock = threading.Lock()

    def start(self) -> None:
        for src, dst in ((self.client, self.upstream), (self.upstream, self.client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def cut(self) -> None:
        """Drop the client abruptly; tell the broker with a FIN."""
        self.cut_off = True
        _close(self.client)
        with contextlib.suppress(OSError):
            self.upstream.shutdown(socket.SHUT_WR)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        to_client = dst is self.client
        dst_ok = True
        try:
            while data := src.recv(65536):
                if to_client and (self.cut_off or self.gate.drop_replies):
                    continue  # swallowed: the client never hears back
                if dst_ok:
                    try:
                        dst.sendall(data)
                    except OSError:
                        dst_ok = False  # keep reading, so the broker's side is never reset
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)  # pass the FIN on; the other direction keeps flowing
        except OSError:
            pass  # src was cut or reset
        with self._lock:
            self._running -= 1
            finished = self._running == 0
        if finished:
            _close(self.client)
            _close(self.upstream)
            self.gate._forget(self)


class TcpGate:
    """Relays 127.0.0.1:`port` to the target while open; refuses connections while shut."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        # While set, bytes from the broker are swallowed: the broker gets every publish, the client never
        # hears back (no PUBACK), as on a connection that dies with acknowledgements in flight.
        self.drop_replies = False
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._relays: set[_Relay] = set()

    @property
    def url(self) -> str:
        """mqtt:// url of the gate."""
        return f"mqtt://127.0.0.1:{self.port}"

    def open(self) -> None:
        """Start accepting and relaying."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.05)
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()

    def shut(self) -> None:
        """Stop listening (new connections are refused) and cut every relayed client off."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._acceptor is not None:
            self._acceptor.join()
            self._acceptor = None
        with self._lock:
            relays = list(self._relays)
        for relay in relays:
            relay.cut()

    def _forget(self, relay: _Relay) -> None:
        with self._lock:
            self._relays.discard(relay)

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                _close(client)  # broker down behind an open gate: like a refused connection
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            relay = _Relay(self, client, upstream)
            with self._lock:
                self._relays.add(relay)
            relay.start()


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
