"""The API's errors: docker's JSON `{"message": ...}` with docker's status codes."""

from __future__ import annotations


class ApiError(Exception):
    """An error a handler answers with; status as docker's (400 bad parameter, 404 no such
    object or route, 409 conflict, 500 the server's own failure)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)
