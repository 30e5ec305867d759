"""A served stack nobody can knock over: stalled and slow clients, oversized bodies, secrets in
gunicorn's own log lines, and the contract each emulator serves.

One real `fleetsim serve` for the module, on an ephemeral loopback port, with a small body
limit (1 MiB), a short request deadline (1.5 s) and a small connection limit (64), so each
limit is reached quickly. Every wait is a poll against a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis

STARTUP_TIMEOUT_S = 60
MAX_BODY = 1024 * 1024
REQUEST_TIMEOUT_S = 1.5
MAX_CONNECTIONS = 64
HEAD = b"GET /gpsinsight/v2/heartbeat/beat HTTP/1.1\r\nHost: localhost\r\n"
# One cheap request per vendor, each answered without credentials.
PROBES = {
    "gpsinsight": "/gpsinsight/v2/heartbeat/beat",
    "wex": "/wex/v2/heartbeat/beat",
    "driveri": "/driveri/v1/tenants/demo-fleet/drivers",
    "whiparound": "/whiparound/api/public/v4/assets",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """`fleetsim serve` in a subprocess; stdout and stderr captured apart."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "FLEETSIM_VEHICLES": "6",
            "FLEETSIM_WEX_VEHICLES": "3",
            "FLEETSIM_MAX_BODY_BYTES": str(MAX_BODY),
            "FLEETSIM_REQUEST_TIMEOUT_S": str(REQUEST_TIMEOUT_S),
            "FLEETSIM_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        }
        env.pop("FLEETSIM_ADMIN_KEY", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fleetsim.cli", "serve", "--port", str(self.port), "--no-demo"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self.ready = threading.Event()
        self.arrived = threading.Condition()
        threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True).start()
        if not self.ready.wait(STARTUP_TIMEOUT_S):
            self.proc.kill()
            raise AssertionError("no ready line:\n" + "".join(self.out + self.err))

    def _read(self, stream, lines: list[str]) -> None:
        for line in stream:
            with self.arrived:
                lines.append(line)
                self.arrived.notify_all()
            if line.strip() == "fleetsim ready":
                self.ready.set()

    def worker_pid(self) -> int:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return int(children.split()[0])

    def stderr_after(self, seen: int, fragment: str, timeout_s: float = 10.0) -> str:
        """All of stderr, once a line holding ``fragment`` has arrived after the first
        ``seen`` lines."""
        deadline = time.monotonic() + timeout_s
        with self.arrived:
            while not any(fragment in line for line in self.err[seen:]):
                remaining = deadline - time.monotonic()
                assert remaining > 0, "no log line with " + fragment
                self.arrived.wait(remaining)
            return "".join(self.err)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    stack = Served()
    try:
        yield stack
    finally:
        stack.stop()


def request_head(method: str, path: str, *fields: str) -> bytes:
    """A whole request head for ``path`` on Host localhost with header ``fields``."""
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: localhost", *fields, "", ""]).encode()


def connect(served: Served, data: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    if data:
        sock.sendall(data)
    return sock


# Bytes read past an answer, per client socket.
_UNREAD: weakref.WeakKeyDictionary[socket.socket, bytes] = weakref.WeakKeyDictionary()


def read_answer(sock: socket.socket, timeout_s: float = 5.0) -> tuple[int, dict, bytes]:
    """(status, JSON body, raw head) of the next answer on a raw socket (bytes of a further
    answer that came with it are kept for the next call)."""
    sock.settimeout(timeout_s)
    data = _UNREAD.pop(sock, b"")
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    length = int({k.lower(): v for k, v in fields.items()}[b"content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        body += chunk
    _UNREAD[sock] = body[length:]
    return int(head.split()[1]), json.loads(body[:length]), head


def closed_by_server(sock: socket.socket, timeout_s: float = 5.0) -> bool:
    """Whether the server closes ``sock`` (reads to EOF) within ``timeout_s``."""
    sock.settimeout(timeout_s)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def assert_every_vendor_answers_within_a_second(served: Served) -> None:
    for vendor, path in PROBES.items():
        started = time.monotonic()
        response = requests.get(served.base + path, timeout=1)
        assert time.monotonic() - started < 1, vendor
        assert response.headers["Content-Type"].startswith("application/json"), vendor


# -- 1. stalled, idle and slow clients ----------------------------------------------------


def test_eight_half_requests_leave_every_vendor_answering(served: Served) -> None:
    stalled = [connect(served, HEAD) for _ in range(8)]
    try:
        assert_every_vendor_answers_within_a_second(served)
    finally:
        for sock in stalled:
            sock.close()


def test_two_hundred_idle_stalled_and_trickling_clients_leave_everyone_answered(
    served: Served,
) -> None:
    body_head = b"POST /whiparound/api/public/v4/assets HTTP/1.1\r\nHost: localhost\r\n"
    kinds = [
        b"",  # connected, silent
        HEAD,  # half a head
        body_head + b"Content-Length: 5000\r\n\r\n{",  # half a body
        body_head + b"Transfer-Encoding: chunked\r\n\r\n10\r\nabc",  # half a chunked body
    ]
    # More than the connection limit: the stalest waiting ones make room for new ones.
    stalled = [connect(served, kinds[i % len(kinds)]) for i in range(4 * MAX_CONNECTIONS)]
    trickling = [connect(served) for _ in range(20)]
    try:
        assert_every_vendor_answers_within_a_second(served)
        for position in range(12):  # the slow clients send a byte per round
            for sock in trickling:
                try:
                    sock.send(HEAD[position : position + 1])
                except OSError:
                    pass  # made room for others: a closed stalled client is the design
            assert_every_vendor_answers_within_a_second(served)
    finally:
        for sock in stalled + trickling:
            sock.close()


def test_a_request_still_arriving_at_its_deadline_is_answered_408_and_closed(
    served: Served,
) -> None:
    sock = connect(served, HEAD)
    started = time.monotonic()
    status, body, head = read_answer(sock, timeout_s=REQUEST_TIMEOUT_S + 5)
    assert time.monotonic() - started >= REQUEST_TIMEOUT_S - 0.3
    assert status == 408 and b"Connection: close" in head
    assert "request timeout" in body["error"]
    assert closed_by_server(sock)


def test_pipelined_requests_arriving_in_pieces_are_all_answered(served: Served) -> None:
    beat = b"GET /gpsinsight/v2/heartbeat/beat HTTP/1.1\r\nHost: localhost\r\n\r\n"
    sock = connect(served, beat + beat + beat[:20])
    first, second = read_answer(sock), read_answer(sock)
    sock.sendall(beat[20:])
    third = read_answer(sock)
    assert [a[0] for a in (first, second, third)] == [200, 200, 200]
    assert third[1]["head"]["method"] == "heartbeat/beat"


# -- 2. bodies over the limit ---------------------------------------------------------------

OVERSIZED = {
    "gpsinsight": "/gpsinsight/v2/vehicle/list",
    "wex": "/wex/v2/vehicle/list",
    "driveri": "/driveri/v1/auth/token",
    "whiparound": "/whiparound/api/public/v4/assets",
    "control plane": "/gpsinsight/_mock/state",
}


def assert_413_in_the_shape_of(target: str, body: dict) -> None:
    limit_text = f"over the limit of {MAX_BODY} bytes"
    if target in ("gpsinsight", "wex"):
        assert body["head"]["status"] == "ERROR" and body["data"] is None
        assert body["head"]["brand"] == ("Wex Telematics" if target == "wex" else "GPS Insight")
        assert body["errors"][0]["code"] == 413
        assert limit_text in body["errors"][0]["message"]
    elif target == "driveri":
        assert body["data"] is None and body["error"]["status"] == 413
        assert limit_text in body["error"]["message"]
    elif target == "whiparound":
        assert set(body) == {"message"} and limit_text in body["message"]
    else:
        assert set(body) == {"error"} and limit_text in body["error"]


@pytest.mark.parametrize("target", OVERSIZED)
def test_a_content_length_over_the_limit_is_answered_413_at_once_in_the_vendors_shape(
    served: Served, target: str
) -> None:
    fields = ("Content-Type: application/json", f"Content-Length: {MAX_BODY + 1}")
    sock = connect(
        served, request_head("POST", OVERSIZED[target], *fields)
    )  # and not a byte of body
    status, body, raw_head = read_answer(sock)
    assert status == 413 and b"Connection: close" in raw_head
    assert_413_in_the_shape_of(target, body)


def test_expect_100_continue_over_the_limit_gets_413_and_no_invitation(served: Served) -> None:
    fields = ("Expect: 100-continue", f"Content-Length: {10 * MAX_BODY}")
    sock = connect(served, request_head("POST", "/whiparound/api/public/v4/assets", *fields))
    status, body, raw_head = read_answer(sock)
    assert status == 413 and not raw_head.startswith(b"HTTP/1.1 100")
    assert_413_in_the_shape_of("whiparound", body)


def test_a_chunked_body_is_refused_at_the_chunk_that_crosses_the_limit(served: Served) -> None:
    sock = connect(
        served, request_head("POST", "/driveri/v1/auth/token", "Transfer-Encoding: chunked")
    )
    quarter = MAX_BODY // 4
    for _ in range(4):  # exactly the limit: still being read
        sock.sendall(b"%x\r\n" % quarter + b"a" * quarter + b"\r\n")
    sock.sendall(b"1\r\n")  # one byte more announced, not sent
    status, body, _ = read_answer(sock)
    assert status == 413
    assert_413_in_the_shape_of("driveri", body)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_refused_body_never_grows_the_worker_by_its_size(served: Served) -> None:
    pid = served.worker_pid()
    before = _rss_kib(pid)
    chunk = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
    for _ in range(2):  # 2 x 64 MiB offered to an endpoint that reads whole bodies
        fields = ("Content-Type: application/json", "Transfer-Encoding: chunked")
        sock = connect(served, request_head("POST", "/gpsinsight/_mock/state", *fields))
        try:
            for _ in range(1024):
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and stopped reading: the point
        status, body, _ = read_answer(sock)
        assert status == 413 and "over the limit" in body["error"]
        sock.close()
    assert _rss_kib(pid) - before < 16 * 1024


def test_a_body_under_the_limit_is_read_whole(served: Served) -> None:
    dump = requests.get(f"{served.base}/gpsinsight/_mock/state", timeout=5).json()
    dump["padding"] = "x" * (MAX_BODY - len(json.dumps(dump)) - 100)  # unknown: ignored
    response = requests.post(f"{served.base}/gpsinsight/_mock/state", json=dump, timeout=5)
    assert response.status_code == 200 and response.json() == {"restored": True}


# -- 4. no secret in any log line -------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, marker",
    [
        (b"GET /gpsinsight/v2/vehicle/list?session_token=SECRET-A1&details=1\r\nHost: h\r\n\r\n",
         "SECRET-A1"),
        (b"GET /wex/v2/userauth/login?username=u&app_token=SECRET-B2\r\n\r\n", "SECRET-B2"),
        (b"POST /gpsinsight/v2/user/update?password=SECRET-C3&new_app_token=SECRET-D4\r\n\r\n",
         "SECRET-"),
    ],
    ids=["session_token", "app_token", "password and new_app_token"],
)  # fmt: skip
def test_a_malformed_request_line_logs_and_answers_no_secret(
    served: Served, raw: bytes, marker: str
) -> None:
    seen = len(served.err)
    sock = connect(served, raw)
    answer = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 400")
    assert marker.encode() not in answer
    logged = served.stderr_after(seen, "Invalid request")
    assert marker not in logged
    assert "[redacted]" in logged


def test_a_head_over_64_kib_is_refused_431_without_echoing_or_logging_its_secret(
    served: Served,
) -> None:
    sock = connect(served, b"GET /x?" + b"session_token=SECRET-E5&" * 3000)
    status, body, _ = read_answer(sock)
    assert status == 431 and "64 KiB" in body["error"]
    seen = len(served.err)  # a line that is logged, to know the log has caught up
    connect(served, b"GET /?app_token=SECRET-F6\r\n\r\n").recv(65536)
    logged = served.stderr_after(seen, "Invalid request")
    assert "SECRET-E5" not in logged and "SECRET-F6" not in logged


@pytest.mark.parametrize(
    "vendor, path",
    [("gpsinsight", "/gpsinsight/v2/heartbeat/beat"), ("whiparound", "/whiparound/x")],
)
def test_a_long_url_is_answered_by_the_vendor_in_its_own_shape(
    served: Served, vendor: str, path: str
) -> None:
    response = requests.get(served.base + path, params={"reference_tag": "t" * 9000}, timeout=5)
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["head"]["status"] if vendor == "gpsinsight" else body["message"]


# -- 6. the contract served by each emulator ------------------------------------------------


@pytest.mark.parametrize(
    "vendor, server",
    [
        ("gpsinsight", "/gpsinsight"),
        ("wex", "/wex"),
        ("driveri", "/driveri"),
        ("whiparound", "/whiparound/api/public/v4"),
    ],
)
def test_schemathesis_loads_each_served_contract_against_its_own_mount(
    served: Served, vendor: str, server: str
) -> None:
    schema = schemathesis.openapi.from_url(f"{served.base}/{vendor}/_mock/openapi.json")
    assert schema.get_base_url() == served.base + server
    assert len(list(schema.get_all_operations())) > 5
