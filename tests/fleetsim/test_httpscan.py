"""The poller's request scanner: whole requests only, framed as gunicorn frames them."""

from __future__ import annotations

import pytest

from fleetsim.httpscan import HANDOFF, RequestScanner, Scan

LIMIT = 1000
GET = b"GET /gpsinsight/v2/heartbeat/beat HTTP/1.1\r\nHost: localhost\r\n\r\n"


def fed_byte_by_byte(data: bytes, limit: int = LIMIT) -> list[Scan]:
    scanner = RequestScanner(limit)
    return [scanner.feed(data[i : i + 1]) for i in range(len(data))]


def test_a_request_is_partial_until_its_last_byte_then_complete() -> None:
    statuses = fed_byte_by_byte(GET)
    assert set(statuses[:-1]) == {Scan.PARTIAL}
    assert statuses[-1] is Scan.COMPLETE


def test_an_empty_buffer_is_an_idle_connection() -> None:
    assert RequestScanner(LIMIT).scan() is Scan.EMPTY


def test_a_content_length_body_completes_the_request_at_its_last_byte() -> None:
    request = b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
    statuses = fed_byte_by_byte(request)
    assert statuses[-2] is Scan.PARTIAL and statuses[-1] is Scan.COMPLETE


def test_a_chunked_body_completes_at_its_last_chunk_and_trailers() -> None:
    request = (
        b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    statuses = fed_byte_by_byte(request)
    assert set(statuses[:-1]) == {Scan.PARTIAL} and statuses[-1] is Scan.COMPLETE


def test_pipelined_requests_complete_one_at_a_time() -> None:
    scanner = RequestScanner(LIMIT)
    assert scanner.feed(GET + GET[:10]) is Scan.COMPLETE
    buffered = scanner.take()
    assert buffered == GET + GET[:10]
    assert scanner.reset(buffered[len(GET) :]) is Scan.PARTIAL
    assert scanner.feed(GET[10:]) is Scan.COMPLETE


def test_a_content_length_over_the_limit_is_refused_from_the_head_alone() -> None:
    scanner = RequestScanner(LIMIT)
    head = b"POST /x HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (LIMIT + 1)
    assert scanner.feed(head) is Scan.BODY_TOO_LARGE


def test_a_chunked_body_is_refused_at_the_size_line_that_crosses_the_limit() -> None:
    scanner = RequestScanner(LIMIT)
    scanner.feed(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert scanner.feed(b"%x\r\n" % LIMIT + b"a" * LIMIT + b"\r\n") is Scan.PARTIAL
    assert scanner.feed(b"1\r\n") is Scan.BODY_TOO_LARGE  # before the chunk's byte arrives


def test_a_head_without_an_end_is_refused_past_the_head_limit() -> None:
    scanner = RequestScanner(LIMIT, max_head=2048)
    scanner.feed(b"GET / HTTP/1.1\r\n")
    assert scanner.feed(b"X-Filler: " + b"a" * 100 + b"\r\n") is Scan.PARTIAL
    assert scanner.feed(b"X-More: " + b"a" * 3000) is Scan.HEAD_TOO_LARGE


@pytest.mark.parametrize(
    "data",
    [
        b"GET /" + b"a" * 5000,  # request line over gunicorn's limit, no end yet
        b"GET / HTTP/1.1\nHost: h\n\n",  # bare LF
        b"\r\n\r\n",  # an empty request line
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
    ],
    ids=["long line", "bare LF", "empty line", "two lengths", "signed length", "gzip", "TE+CL"],
)
def test_heads_gunicorn_refuses_are_handed_on_for_its_answer(data: bytes) -> None:
    status = RequestScanner(LIMIT).feed(data)
    assert status is Scan.MALFORMED and status in HANDOFF


@pytest.mark.parametrize(
    "body",
    [b"zz\r\nabc\r\n", b"3\r\nabcXY", b"3\r\nabc\r\n" + b"1" * 9000],
    ids=["not hex", "no CRLF after the data", "size line without an end"],
)
def test_broken_chunk_framing_is_a_bad_body(body: bytes) -> None:
    scanner = RequestScanner(100_000)
    scanner.feed(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert scanner.feed(body) is Scan.BAD_BODY


def test_expect_100_continue_is_noticed_on_http_1_1_only() -> None:
    scanner = RequestScanner(LIMIT)
    scanner.feed(b"POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
    assert scanner.expects_continue and scanner.status is Scan.PARTIAL
    old = RequestScanner(LIMIT)
    old.feed(b"POST /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
    assert not old.expects_continue


def test_with_no_request_line_limit_a_long_line_is_bounded_by_the_head_limit() -> None:
    scanner = RequestScanner(LIMIT, max_head=4096, max_line=4096)
    assert scanner.feed(b"GET /" + b"a" * 4000) is Scan.PARTIAL
    assert scanner.feed(b"a" * 200) is Scan.HEAD_TOO_LARGE
