"""The explorer's HTTP server: its page, its assets and its three API routes, nothing else.

The standard library's threading server on loopback. Every request must name the server itself
in Host (and in Origin when the browser sends one), which defeats DNS rebinding: a page of
another site that resolves its own name to 127.0.0.1 still sends its own name. Bodies are small
JSON objects, validated before use; a bad value is a 400 with the message, and the server runs on.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import urlsplit

from ..engine.errors import PolewarpError, SpecError
from .explorer import Explorer, frame_headers

log = logging.getLogger("polewarp")

MAX_BODY = 64 * 1024  # a view is a few hundred bytes of JSON
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/explore.js": ("explore.js", "text/javascript; charset=utf-8"),
          "/explore.css": ("explore.css", "text/css; charset=utf-8")}
API = {"/api/start": "GET", "/api/frame": "POST", "/api/save": "POST"}
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'",
}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ExploreServer(ThreadingHTTPServer):
    """The server of one Explorer; ``stop`` leaves no thread, connection or socket behind."""

    daemon_threads = False
    block_on_close = True  # server_close joins every request's thread

    def __init__(self, address: tuple[str, int], explorer: Explorer):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.explorer = explorer
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        port = self.server_address[1]
        names = {address[0], *LOOPBACK} if address[0] in LOOPBACK else {address[0]}
        self.hosts = {f"[{name}]:{port}" if ":" in name else f"{name}:{port}" for name in names}
        self.origins = {f"http://{host}" for host in self.hosts}

    @property
    def url(self) -> str:
        host = self.server_address[0]
        return f"http://{f'[{host}]' if ':' in host else host}:{self.server_address[1]}/"

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def stop(self) -> None:
        """End the explorer's work, cut open connections and join every request's thread."""
        self.explorer.close()
        with self._connections_lock:
            for connection in self._connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:  # already closed by the client
                    pass
        self.server_close()


class Refused(Exception):
    """A request answered with an error status and a one-line message."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    server: ExploreServer
    server_version = "polewarp-explore"
    timeout = 30  # seconds a connection may stay silent

    def version_string(self) -> str:
        return self.server_version  # not Python's version

    def log_message(self, format, *args):  # noqa: A002 (the stdlib's signature)
        log.debug("explore: %s", format % args)

    def do_GET(self):
        self._answer("GET")

    def do_POST(self):
        self._answer("POST")

    def _answer(self, method: str) -> None:
        try:
            self._check_origin()
            path = urlsplit(self.path).path
            if path in STATIC or path in API:
                allowed = "GET" if path in STATIC else API[path]
                if method != allowed:
                    raise Refused(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes {allowed} only")
            else:
                raise Refused(HTTPStatus.NOT_FOUND, f"no such page: {path}")
            if path in STATIC:
                self._static(*STATIC[path])
            elif path == "/api/start":
                self._json(self.server.explorer.start_info())
            elif path == "/api/frame":
                self._frame(self._body())
            else:
                self._json(self.server.explorer.save(self._body()))
        except ConnectionError:  # the page went away (closed, or a newer request made it give up)
            return
        except Refused as err:
            self._error(err.status, str(err))
        except SpecError as err:
            self._error(HTTPStatus.BAD_REQUEST, str(err))
        except PolewarpError as err:
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, str(err))
        except OSError as err:
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{err.filename or ''}: {err.strerror or err}")
        except Exception as err:  # a bug: the server keeps running, the page shows one line
            log.exception("explore: unexpected error")
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"unexpected error: {type(err).__name__}: {err}")

    def _check_origin(self) -> None:
        """DNS rebinding: only requests that name this server reach it."""
        if self.headers.get("Host") not in self.server.hosts:
            raise Refused(HTTPStatus.FORBIDDEN, "refused: the Host header does not name this server")
        origin = self.headers.get("Origin")
        if origin is not None and origin not in self.server.origins:
            raise Refused(HTTPStatus.FORBIDDEN, "refused: a page of another origin")

    def _body(self):
        """The request's JSON body (an application/json POST of at most MAX_BODY bytes)."""
        if self.headers.get_content_type() != "application/json":
            raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise Refused(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required") from None
        if not 0 <= length <= MAX_BODY:
            raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is over {MAX_BODY} bytes")
        try:
            return json.loads(self.rfile.read(length), parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError) as err:
            raise Refused(HTTPStatus.BAD_REQUEST, f"not JSON: {err}") from None

    def _frame(self, body) -> None:
        frame = self.server.explorer.frame(body)
        if frame is None:  # superseded by a newer view, or a drag off the map: nothing to show
            self._send(HTTPStatus.NO_CONTENT, b"", None)
            return
        self._send(HTTPStatus.OK, frame.image, frame.content_type, frame_headers(frame))

    def _static(self, name: str, content_type: str) -> None:
        self._send(HTTPStatus.OK, (resources.files(__package__) / "static" / name).read_bytes(), content_type)

    def _json(self, data) -> None:
        self._send(HTTPStatus.OK, json.dumps(data).encode(), "application/json")

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send(status, json.dumps({"error": message}).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str | None, extra: dict | None = None) -> None:
        self.send_response(status)
        for name, value in {**HEADERS, **(extra or {})}.items():
            self.send_header(name, value)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def serve(explorer: Explorer, host: str, port: int, ready) -> None:
    """Serve until interrupted; ``ready(url)`` is called once the socket listens. Whatever ends
    the loop (Ctrl-C raises Interrupted here), the server stops cleanly first."""
    try:
        server = ExploreServer((host, port), explorer)
    except BaseException:  # the port is taken, say: the render thread must end all the same
        explorer.close()
        raise
    try:
        ready(server.url)
        server.serve_forever(poll_interval=0.1)
    finally:
        server.stop()
