"""Python client of the Tessera query server (`tessera serve`), standard library only.

    from tessera_client import Client
    c = Client("http://127.0.0.1:8080", token=None)
    for hit in c.query("photo.jpg", top=5).results:
        print(hit.rank, hit.score, hit.path)

Every failure the server reports raises `TesseraError` (or a subclass) carrying the HTTP
status and the server's message; a server that cannot be reached raises `ConnectionFailed`.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

__all__ = ["Client", "QueryResult", "Hit", "Image", "Stats", "AddResult", "TesseraError", "BadRequest",
           "Unauthorized", "Forbidden", "NotFound", "Busy", "UnusableImage", "ConnectionFailed"]

ImageSource = Union[str, os.PathLike, bytes]


class TesseraError(Exception):
    """An error response of the server: `status` (HTTP) and `message` (the server's words)."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class BadRequest(TesseraError):
    """400 or 413: malformed parameters or body, or a body over the upload limit."""


class Unauthorized(TesseraError):
    """401: the endpoint needs a token."""


class Forbidden(TesseraError):
    """403: a wrong token, or writes disabled on this server."""


class NotFound(TesseraError):
    """404: no image with this id."""


class UnusableImage(TesseraError):
    """415 or 422: not a JPEG, or a JPEG that cannot be used."""


class Busy(TesseraError):
    """503 (the server's queue is full; `retry_after` seconds) or 409 (another writer)."""

    def __init__(self, status: int, message: str, retry_after: Optional[float]):
        super().__init__(status, message)
        self.retry_after = retry_after


class ConnectionFailed(TesseraError):
    """The server could not be reached (status 0)."""


@dataclass(frozen=True)
class Hit:
    rank: int
    id: int
    path: str
    score: float
    layer_scores: List[float]
    #: The shard holding the image, from a coordinator (`tessera serve --shards`); `id` is then its id there.
    shard: Optional[int] = None


@dataclass(frozen=True)
class Coverage:
    """How many shards a coordinator's query reached; `partial` when some did not answer."""
    asked: int
    answered: int
    failed: int
    timed_out: int
    partial: bool
    errors: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class QueryResult:
    results: List[Hit]
    timings: Dict[str, float]
    postings_scanned: int
    #: Set by a coordinator of shards; None from one index.
    coverage: Optional[Coverage] = None


@dataclass(frozen=True)
class Image:
    id: int
    path: str
    width: int
    height: int
    content_hash: str
    features: List[int] = field(default_factory=list)


@dataclass(frozen=True)
class Stats:
    images: int
    next_image_id: int
    bytes_in_use: int
    file_bytes: int
    layers: List[Dict[str, object]]


@dataclass(frozen=True)
class AddResult:
    id: int
    added: bool


def _image(d: dict) -> Image:
    return Image(d["id"], d["path"], d["width"], d["height"], d["contentHash"], list(d.get("features", [])))


class Client:
    """A connection to one `tessera serve` (`url` like http://127.0.0.1:8080)."""

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    # -- requests -----------------------------------------------------------------------
    def _request(self, method: str, path: str, params: Optional[dict] = None, body: Optional[bytes] = None,
                 content_type: Optional[str] = None) -> bytes:
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode({k: _param(v) for k, v in params.items() if v is not None})
        req = urllib.request.Request(url, data=body, method=method)
        if content_type:
            req.add_header("Content-Type", content_type)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                message = json.loads(raw)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = raw.decode("utf-8", "replace") or e.reason
            raise _error(e.code, message, e.headers.get("Retry-After")) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            raise ConnectionFailed(0, f"cannot reach {self.url}: {getattr(e, 'reason', e)}") from None

    def _json(self, *args, **kwargs):
        return json.loads(self._request(*args, **kwargs))

    # -- API ----------------------------------------------------------------------------
    def query(self, image: ImageSource, top: int = 10, *, rerank: Optional[bool] = None,
              query_expansion: Optional[int] = None, layers: Optional[List[str]] = None,
              multiple_assignment: Optional[int] = None, global_only: Optional[bool] = None,
              verify: Optional[bool] = None, rerank_global: Optional[int] = None,
              rerank_beta: Optional[float] = None, rerank_combination: Optional[str] = None) -> QueryResult:
        """Ranks the index for a JPEG (a path or its bytes)."""
        params = {"top": top, "rerank": rerank, "qe": query_expansion, "ma": multiple_assignment,
                  "global_only": global_only, "verify": verify, "rerank_global": rerank_global,
                  "rerank_beta": rerank_beta, "rerank_combination": rerank_combination,
                  "layers": ",".join(layers) if layers is not None else None}
        d = self._json("POST", "/v1/query", params, _read(image), "image/jpeg")
        hits = [Hit(h["rank"], h["id"], h["path"], h["score"], list(h["layerScores"]), h.get("shard"))
                for h in d["results"]]
        c = d.get("coverage")
        coverage = Coverage(c["asked"], c["answered"], c["failed"], c["timedOut"], c["partial"],
                            list(c.get("errors", []))) if c else None
        return QueryResult(hits, dict(d["timings"]), d["postingsScanned"], coverage)

    def add(self, image: ImageSource) -> AddResult:
        """Adds a JPEG (needs the token). `added` is False when the same content is indexed already."""
        d = self._json("POST", "/v1/images", None, _read(image), "image/jpeg")
        return AddResult(d["id"], d["added"])

    def remove(self, image_id: int) -> None:
        """Removes an image by id (needs the token); `NotFound` when there is none."""
        self._request("DELETE", f"/v1/images/{int(image_id)}")

    def image(self, image_id: int) -> Image:
        return _image(self._json("GET", f"/v1/images/{int(image_id)}"))

    def images(self, page_size: int = 100) -> List[Image]:
        """Every indexed image, by id (read page by page)."""
        out: List[Image] = []
        start: Optional[int] = 0
        while start is not None:
            d = self._json("GET", "/v1/images", {"from": start, "limit": page_size})
            out += [_image(x) for x in d["images"]]
            start = d.get("next")
        return out

    def thumbnail(self, image_id: int) -> bytes:
        return self._request("GET", f"/v1/images/{int(image_id)}/thumbnail")

    def stats(self) -> Stats:
        d = self._json("GET", "/v1/stats")
        return Stats(d["images"], d["nextImageID"], d["bytesInUse"], d["fileBytes"], list(d["layers"]))

    def healthy(self) -> bool:
        try:
            return self._json("GET", "/healthz").get("status") == "ok"
        except TesseraError:
            return False


def _param(v) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _read(image: ImageSource) -> bytes:
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    with open(image, "rb") as f:
        return f.read()


def _error(status: int, message: str, retry_after: Optional[str]) -> TesseraError:
    if status in (409, 503):
        try:
            seconds = float(retry_after) if retry_after else None
        except ValueError:
            seconds = None
        return Busy(status, message, seconds)
    kind = {400: BadRequest, 413: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound,
            415: UnusableImage, 422: UnusableImage}.get(status, TesseraError)
    return kind(status, message)
