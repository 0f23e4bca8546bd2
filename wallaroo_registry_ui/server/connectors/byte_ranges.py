"""Asking a registry for a file from a byte offset on, and telling whether it did.

A download that resumes at ``offset`` sends ``Range: bytes=<offset>-``. An answer counts as
the file's tail only when it is a 206 whose ``Content-Range`` starts at that offset and runs
to the file's last byte, with a body that is not content-coded and as long as the range says.
A 200 is the whole file (the route ignores ranges). A 416 whose ``Content-Range`` gives the
offset as the file's size says every byte is there already: nothing is left to read. Any
other 206 or 416 is asked for again without a range, so the consumer starts over instead of
splicing in the wrong bytes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

import requests

from wallaroo_registry_ui.server.connectors.base import UpstreamError
from wallaroo_registry_ui.server.connectors.http import Params, RegistryHttp, announced_size

log = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes\s+([0-9]+)-([0-9]+)/([0-9]+|\*)", re.IGNORECASE)
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/([0-9]+)", re.IGNORECASE)


@dataclass(frozen=True)
class ContentRange:
    """A ``Content-Range: bytes <first>-<last>/<total>``; ``total`` None for ``*``."""

    first: int
    last: int
    total: int | None


@dataclass(frozen=True)
class OpenedBody:
    """A streamed response, where its body starts in the file, and the file's whole size
    as the response tells it (None when it does not). ``at_end``: the offset is the file's
    end, and the response (a 416) holds none of its bytes."""

    response: requests.Response
    offset: int
    total: int | None
    at_end: bool = False

    def chunks(self, http: RegistryHttp, chunk_size: int) -> Iterator[bytes]:
        """The file's bytes from ``offset`` on, read as ``RegistryHttp.iter_chunks`` reads."""
        if self.at_end:
            self.response.close()
            return iter(())
        return http.iter_chunks(self.response, chunk_size)


def content_range(response: requests.Response) -> ContentRange | None:
    """The response's ``Content-Range``; None when absent or not a well-formed byte range."""
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if match is None:
        return None
    first, last = int(match.group(1)), int(match.group(2))
    total = None if match.group(3) == "*" else int(match.group(3))
    if last < first or (total is not None and last >= total):
        return None
    return ContentRange(first, last, total)


def open_body(
    http: RegistryHttp, url_or_path: str, params: Params = None, *, offset: int = 0
) -> OpenedBody:
    """Open a GET of a file's bytes from ``offset`` on, or of the whole file when the
    registry will not start there (``OpenedBody.offset`` is then 0)."""
    if offset < 0:
        raise ValueError(f"offset must not be negative, not {offset}")
    if offset:
        ranged = _open_tail(http, url_or_path, params, offset)
        if ranged is not None:
            return ranged
    response = http.stream(url_or_path, params)
    try:
        return OpenedBody(response, 0, _whole_size(http, response))
    except BaseException:
        response.close()
        raise


def _open_tail(
    http: RegistryHttp, url_or_path: str, params: Params, offset: int
) -> OpenedBody | None:
    """The file from ``offset`` on; None when the registry answered anything but that."""
    headers = {"Range": f"bytes={offset}-", "Accept-Encoding": "identity"}
    response = http.stream(url_or_path, params, headers=headers, allow_statuses=(416,))
    if response.status_code == 416:
        unsatisfied = _UNSATISFIED_RANGE.fullmatch(
            response.headers.get("Content-Range", "").strip()
        )
        if unsatisfied is not None and int(unsatisfied.group(1)) == offset:
            return OpenedBody(response, offset, offset, at_end=True)
        response.close()
        log.info(
            "registry '%s' cannot start at byte %d; reading the whole file",
            http.registry_name,
            offset,
        )
        return None
    if response.status_code == 200:
        return OpenedBody(response, 0, announced_size(response))
    part = content_range(response)
    if response.status_code == 206 and part is not None and _is_tail(response, part, offset):
        return OpenedBody(response, offset, part.total)
    response.close()
    log.info(
        "registry '%s' answered a request from byte %d with HTTP %d and Content-Range %r; "
        "reading the whole file",
        http.registry_name,
        offset,
        response.status_code,
        response.headers.get("Content-Range"),
    )
    return None


def _is_tail(response: requests.Response, part: ContentRange, offset: int) -> bool:
    """True when a 206 holds exactly the bytes from ``offset`` to the file's end."""
    if response.headers.get("Content-Encoding", "identity").lower() != "identity":
        return False
    if part.first != offset or (part.total is not None and part.last != part.total - 1):
        return False
    length = announced_size(response)
    return length is None or length == part.last - part.first + 1


def _whole_size(http: RegistryHttp, response: requests.Response) -> int | None:
    """The size of a file asked for whole: a 200's length, or a 206 that spans it all."""
    if response.status_code != 206:
        return announced_size(response)
    part = content_range(response)
    if part is None or part.first != 0 or part.total is None or not _is_tail(response, part, 0):
        raise UpstreamError(
            http.registry_name, "answered a request for a whole file with a part of it", 206
        )
    return part.total
