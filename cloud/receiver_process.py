"""The MQTT receiver in a child process, so that packet parsing does not compete with ingest for the GIL.

paho parses every packet in Python (about 50 us of interpreter time per message on the 2-core reference
machine, acknowledgements included). In the hub's process that time is taken from the ingest worker, which
validates, applies the rules and commits under the same interpreter lock; in a child process it runs on
another core. The child (`python -m cloud.receiver_process`) runs an ordinary `MqttReceiver`, relays what it
receives over a socket pair in chunks, and acknowledges the message ids the hub sends back after each
commit. The hub stays one command with one composition root: the child is an implementation detail of
ingest, started and stopped with it.

Failures: if the child dies, the hub starts a new one after `restart_delay_s` (doubling, up to 30 s, while
children die before they connect). What the old child had relayed but the hub had not acknowledged yet is
re-delivered by the broker to the new one (event ids de-duplicate); acknowledgements only ever go to the
child that received the messages. If the hub dies, the child sees its socket close and disconnects.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from cloud.receiver import Deliver, Inbound, MqttReceiver, ReceiverConfig

log = logging.getLogger(__name__)

CHUNK_MAX = 2_000  # messages per relayed chunk (the hub commits in batches of about that size anyway)
_EPOCH_SHIFT = 32  # a generation is (child epoch << 32) + connections of that child
_HEADER = struct.Struct("!I")


class ProcessReceiver:
    """A `Receiver` whose MQTT client runs in a child process."""

    def __init__(
        self, config: ReceiverConfig, *, restart_delay_s: float = 1.0, stop_timeout_s: float = 10.0
    ) -> None:
        self._config = config
        self._restart_delay_s = restart_delay_s
        self._next_delay_s = restart_delay_s  # doubles while children die before connecting (max 30 s)
        self._stop_timeout_s = stop_timeout_s
        self._deliver: Deliver | None = None
        self._lock = threading.Lock()  # guards the child's handles and the sending side of its socket
        self._child: _Child | None = None
        self._epoch = 0
        self._connects = 0
        self._connected = threading.Event()
        self._stopping = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self, deliver: Deliver) -> None:
        """Start the child; it connects in the background and relays messages to `deliver`."""
        self._deliver = deliver
        self._stopping.clear()
        self._spawn()

    def stop(self) -> None:
        """Ask the child to disconnect (keeping the session); return once it exited and its messages came."""
        self._stopping.set()
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            child.stop(self._stop_timeout_s)
        self._connected.clear()

    @property
    def connected(self) -> bool:
        """True while the child is connected and subscribed."""
        return self._connected.is_set()

    @property
    def connects(self) -> int:
        """Successful connections so far, over every child."""
        return self._connects

    @property
    def pid(self) -> int | None:
        """The current child's process id (None when there is none)."""
        child = self._child
        return child.process.pid if child is not None else None

    def wait_connected(self, timeout: float) -> bool:
        """Block until the child is connected and subscribed (or the timeout)."""
        return self._connected.wait(timeout)

    # -- acknowledging -------------------------------------------------------------------------------------

    def acknowledge(self, items: Iterable[Inbound]) -> int:
        """Send the QoS 1 message ids back to the child that received them, grouped by connection."""
        with self._lock:
            child = self._child
        if child is None:
            return 0
        by_generation: dict[int, list[int]] = {}
        for _topic, _payload, qos, mid, generation in items:
            if qos > 0 and generation >> _EPOCH_SHIFT == child.epoch:
                by_generation.setdefault(generation, []).append(mid)
        sent = 0
        for generation, mids in by_generation.items():
            if not child.send(("ack", generation, mids)):
                return sent  # the child died: the broker re-delivers to the next one
            sent += len(mids)
        return sent

    # -- the child's messages ------------------------------------------------------------------------

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self._epoch += 1
            child = _Child.start(self._config, self._epoch)
            self._child = child
        reader = threading.Thread(
            target=self._read, args=(child,), name="qmon-hub-receiver-relay", daemon=True
        )
        child.reader = reader
        reader.start()

    def _read(self, child: _Child) -> None:
        deliver = self._deliver
        assert deliver is not None
        for message in child.messages():
            kind = message[0]
            if kind == "messages":
                deliver(message[1])
            elif kind == "connected":
                self._connects += 1
                self._next_delay_s = self._restart_delay_s
                self._connected.set()
            elif kind == "disconnected":
                self._connected.clear()
            elif kind == "log":
                log.log(message[1], "%s", message[2])
        self._connected.clear()
        if not self._stopping.is_set() and child is self._child:
            self._restart(child)

    def _restart(self, child: _Child) -> None:
        code = child.process.wait()
        delay, self._next_delay_s = self._next_delay_s, min(self._next_delay_s * 2, 30.0)
        log.error("hub receiver exited unexpectedly (exit code %s); restarting it in %.1fs", code, delay)
        child.close()
        if self._stopping.wait(delay):
            return
        self._spawn()


class _Child:
    """One child process and the hub's end of its socket pair."""

    def __init__(self, process: subprocess.Popen[bytes], sock: socket.socket, epoch: int) -> None:
        self.process = process
        self.epoch = epoch
        self.reader: threading.Thread | None = None
        self._sock = sock
        self._stream = sock.makefile("rb")
        self._send_lock = threading.Lock()

    @classmethod
    def start(cls, config: ReceiverConfig, epoch: int) -> _Child:
        """Start `python -m cloud.receiver_process` on one end of a new socket pair and send it its config."""
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        # The child must import this very code, whatever made it importable here (install or checkout).
        source_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "cloud.receiver_process", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            env=env,
        )
        theirs.close()
        child = cls(process, ours, epoch)
        child.send((config, epoch, logging.getLogger().getEffectiveLevel()))
        return child

    def send(self, message: Any) -> bool:
        """Send one frame; False if the child is gone."""
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            with self._send_lock:
                self._sock.sendall(_HEADER.pack(len(data)) + data)
        except OSError:
            return False
        return True

    def messages(self) -> Iterable[Any]:
        """The child's frames, until its end closes."""
        yield from _frames(self._stream)

    def stop(self, timeout: float) -> None:
        """Ask the child to stop, wait for it and for its last messages (terminate it if it hangs)."""
        self.send(("stop",))
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("hub receiver did not stop in %.0fs; terminating it", timeout)
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.reader is not None and self.reader is not threading.current_thread():
            self.reader.join(timeout)
        self.close()

    def close(self) -> None:
        """Release the socket."""
        self._stream.close()
        self._sock.close()


def _frames(stream: BinaryIO) -> Iterable[Any]:
    while True:
        try:
            header = stream.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return
            (size,) = _HEADER.unpack(header)
            data = stream.read(size)
        except (OSError, ValueError):  # closed under us
            return
        if len(data) < size:
            return
        yield pickle.loads(data)  # noqa: S301 - frames from our own child process, over a private socket pair


# -- the child process --------------------------------------------------------------------------------


def main(fd: int) -> None:
    """The child's main: receive over MQTT, relay to the hub, acknowledge what the hub committed."""
    # The hub decides when to stop (a terminal's ^C reaches both processes).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    stream = sock.makefile("rb")
    frames = iter(_frames(stream))
    config, epoch, log_level = next(frames)
    relay = _Relay(sock)
    root = logging.getLogger()
    root.setLevel(log_level)
    root.addHandler(_RelayHandler(relay))
    receiver = MqttReceiver(config, generation_base=epoch << _EPOCH_SHIFT, on_connection=relay.connection)
    receiver.start(relay.deliver)
    try:
        for command in frames:  # ends when the hub closes its end
            if command[0] == "ack":
                receiver.acknowledge_ids(command[1], command[2])
            elif command[0] == "stop":
                break
    finally:
        receiver.stop()
        relay.close()
        stream.close()
        sock.close()


class _Control:
    """A connection-state change or a log line, queued in order with the messages."""

    __slots__ = ("message",)

    def __init__(self, message: tuple[Any, ...]) -> None:
        self.message = message


class _Relay:
    """Collects what the network thread receives and sends it to the hub in chunks, from its own thread."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = object()
        self._thread = threading.Thread(target=self._run, name="qmon-receiver-relay", daemon=True)
        self._thread.start()

    def deliver(self, items: Iterable[Inbound]) -> None:
        """Queue received messages (called by paho's network thread)."""
        put = self._queue.put
        for item in items:
            put(item)

    def connection(self, generation: int | None) -> None:
        """Tell the hub the connection state."""
        self._queue.put(_Control(("disconnected",) if generation is None else ("connected", generation)))

    def log(self, level: int, text: str) -> None:
        """Forward a log line to the hub's logging."""
        self._queue.put(_Control(("log", level, text)))

    def close(self) -> None:
        """Send what is queued, then stop sending."""
        self._queue.put(self._closed)
        self._thread.join(10)

    def _run(self) -> None:
        get, get_nowait = self._queue.get, self._queue.get_nowait
        closed = self._closed
        done = False
        while not done:
            item = get()
            chunk: list[Inbound] = []
            while True:
                if item is closed:
                    done = True
                    break
                if isinstance(item, _Control):  # send the messages before it first, to keep the order
                    self._send(chunk)
                    chunk = []
                    self._send_frame(item.message)
                else:
                    chunk.append(item)
                    if len(chunk) >= CHUNK_MAX:
                        break
                try:
                    item = get_nowait()
                except queue.Empty:
                    break
            self._send(chunk)

    def _send(self, chunk: list[Inbound]) -> None:
        if chunk:
            self._send_frame(("messages", chunk))

    def _send_frame(self, message: tuple[Any, ...]) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with contextlib.suppress(OSError):  # the hub is gone; the broker keeps what was not acknowledged
            self._sock.sendall(_HEADER.pack(len(data)) + data)


class _RelayHandler(logging.Handler):
    """Sends the child's log records to the hub."""

    def __init__(self, relay: _Relay) -> None:
        super().__init__()
        self._relay = relay

    def emit(self, record: logging.LogRecord) -> None:
        """Forward one record, formatted."""
        try:
            self._relay.log(record.levelno, f"{record.name}: {record.getMessage()}")
        except Exception:  # a logging handler must never raise
            self.handleError(record)


if __name__ == "__main__":
    main(int(sys.argv[1]))
