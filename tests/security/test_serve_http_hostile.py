"""cairn serve's HTTP reader against a hostile client on the socket: a negative chunk size (which
made the reader take everything the client sends until it hangs up: unbounded memory), a JSON
body nested past Python's recursion limit (a 500 "internal error"), two Content-Lengths that
disagree (two readers of one stream would frame it two ways), a RestartPolicy of the wrong
shape (a Python error in the reply). Each must be docker's 4xx JSON error, with nothing read
past the body's bound."""

from __future__ import annotations

import io

import pytest

from builder.errors import UsageError
from builder.serve.create_body import run_request
from builder.serve.errors import ApiError
from builder.serve.http import MAX_BODY, read_request


class _Endless(io.RawIOBase):
    """A client that keeps sending: `head`, then filler bytes for ever (this test fails, rather
    than the reader taking them all, once it has read far past any bound)."""

    def __init__(self, head: bytes):
        self.head, self.sent = head, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        if self.sent > 8 * MAX_BODY:
            raise AssertionError("the server read far past the body's bound")
        data = self.head[self.sent:self.sent + len(buf)] if self.sent < len(self.head) else b"x" * len(buf)
        buf[:len(data)] = data
        self.sent += len(data)
        return len(data)


def _request(head: bytes):
    return read_request(io.BufferedReader(_Endless(head)))


@pytest.mark.parametrize("size", [b"-1", b"-ffff", b"+-1", b"0x-1"])
def test_a_negative_chunk_size_is_refused(size):
    head = b"POST /v1.41/containers/create HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\n"
    with pytest.raises(ApiError) as err:
        _request(head).json()
    assert err.value.status == 400
    with pytest.raises(ApiError) as err:  # (a streamed body: docker load, a build context)
        _request(head.replace(b"create", b"load")).stream(1 << 20).read(1 << 16)
    assert err.value.status == 400


def test_a_deeply_nested_body_is_a_bad_request():
    body = b"[" * 200_000 + b"]" * 200_000
    head = b"POST /v1.41/containers/create HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body)
    with pytest.raises(ApiError) as err:
        read_request(io.BufferedReader(io.BytesIO(head + body))).json()
    assert err.value.status == 400 and "nested" in err.value.message


def test_two_content_lengths_that_disagree_are_refused():
    head = b"POST /v1.41/containers/create HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}"
    with pytest.raises(ApiError) as err:
        read_request(io.BufferedReader(io.BytesIO(head)))
    assert err.value.status == 400


@pytest.mark.parametrize("policy", ["always", ["no"], 5])
def test_a_restart_policy_of_the_wrong_shape_is_a_usage_error(policy):
    with pytest.raises(UsageError, match="RestartPolicy"):
        run_request({"Image": "busybox:local", "HostConfig": {"RestartPolicy": policy}})
