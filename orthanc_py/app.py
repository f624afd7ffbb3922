"""Builds the server: the context (index + storage), the REST API, and the HTTP listener.

Where a request goes: ``auth/basic.py`` (access rules) → the route table below (one module per
resource family under ``rest/``) → ``core/context.py`` (store, read, delete) and
``core/query.py`` (find) → ``index/`` and ``storage/``.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from . import __version__
from .auth.basic import AccessControl
from .config import Settings
from .core.context import ServerContext
from .core.errors import OrthancError
from .dicomweb.metadata_warmer import install_metadata_warmer
from .dicomweb.routes import dicomweb_routes
from .http_listener import BalancedListener, balancing
from .index.sqlite import SQLiteIndex
from .net import scp
from .rest import (
    changes,
    find,
    images,
    instances,
    jobs,
    labels,
    metadata,
    modalities,
    modality_find,
    ordered_slices,
    peers,
    queries,
    resource_tags,
    resources,
    storage_commitment,
    system,
    tools,
)
from .rest.errors import http_exception_handler, orthanc_error_handler, unexpected_error_handler
from .storage.filesystem import FilesystemStorage

logger = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


def merge_routes(routes: list[Route]) -> list[BaseRoute]:
    """One route per path, dispatching on the method, so a wrong method gets 405 with every
    allowed method in ``Allow`` (as Orthanc answers)."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for route in routes:
        methods = by_path.setdefault(route.path, {})
        for method in route.methods or ():
            methods[method] = route.endpoint  # type: ignore[assignment]
    merged: list[BaseRoute] = []
    for path, methods in by_path.items():
        merged.append(Route(path, _dispatcher(methods), methods=sorted(methods)))
    return merged


def _dispatcher(methods: dict[str, Endpoint]) -> Endpoint:
    async def dispatch(request: Request) -> Response:
        endpoint = methods.get(request.method) or methods["GET"]  # HEAD falls back to GET
        return await endpoint(request)

    return dispatch


async def root_redirect(request: Request) -> Response:
    return RedirectResponse("app/explorer.html", status_code=307)


async def no_web_ui(request: Request) -> Response:
    # The Orthanc Explorer pages are not served (yet); Orthanc answers a missing page with a bare 404.
    return Response(status_code=404)


def tune_hypercorn() -> None:
    """Two changes to hypercorn's connection handling (``hypercorn.asyncio.tcp_server``)."""
    import hypercorn.asyncio.tcp_server as tcp_server

    # Uploads are large: reading up to 1 MiB per call instead of hypercorn's 64 KiB divides the
    # Python work per uploaded file (one read, parse and queue step each) several times.
    tcp_server.MAX_RECV = max(tcp_server.MAX_RECV, 2**20)

    # Once the client has closed its side, hypercorn still waits out the keep-alive timeout
    # (its idle task keeps the connection's task group open) before closing the socket: a client
    # opening a connection per request would leave thousands in CLOSE-WAIT, each holding a file
    # descriptor. Stopping the idle wait when reading ends lets the connection close at once,
    # after the response in progress, if any.
    read_data = tcp_server.TCPServer._read_data
    if getattr(read_data, "stops_idle_wait", False):
        return

    async def read_data_then_stop_idle_wait(self: tcp_server.TCPServer) -> None:
        try:
            await read_data(self)
        finally:
            await self.idle_task.stop()

    read_data_then_stop_idle_wait.stops_idle_wait = True  # type: ignore[attr-defined]
    tcp_server.TCPServer._read_data = read_data_then_stop_idle_wait  # type: ignore[method-assign]


def tune_memory() -> None:
    """Set up the garbage collector and the C allocator of a serving process for its workload."""
    tune_garbage_collector()
    tune_allocator()


def tune_garbage_collector() -> None:
    """Every request allocates thousands of short-lived containers (pydicom datasets, JSON), each
    700 of which run a collection that walks the young objects, and every few of those the whole
    heap, modules and tag dictionaries included. Frozen, what start-up loaded is no longer walked;
    a higher threshold collects the young ones a few times less often."""
    gc.freeze()
    gc.set_threshold(7000, 10, 10)


# glibc's mallopt() parameters
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3


def tune_allocator() -> None:
    """Keep freed upload buffers for the next upload instead of giving them back to the kernel.

    Every upload passes through several buffers of its size (socket reads, the HTTP parser, the
    joined body). glibc gives blocks that large their own mapping, or trims them off the top of
    the heap once freed, so each new one costs a page fault per 4 KiB: a tenth of the event
    loop's time during an ingest. Blocks up to 16 MiB now come from the heap, which keeps up to
    64 MiB free. Left alone where the allocator is not glibc's or its MALLOC_* variables are set.
    """
    if any(name.startswith("MALLOC_") for name in os.environ):
        return
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        if not hasattr(libc, "gnu_get_libc_version"):
            return
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 16 * 2**20)
    mallopt(_M_TRIM_THRESHOLD, 64 * 2**20)
    mallopt(_M_TOP_PAD, 4 * 2**20)


def build_context(settings: Settings) -> ServerContext:
    index = SQLiteIndex(os.path.join(settings.index_path, "index.sqlite"), read_only=settings.read_only)
    storage = FilesystemStorage(settings.storage_directory, fsync=settings.sync_storage_area)
    context = ServerContext(settings, index, storage)
    install_metadata_warmer(context)  # WADO-RS metadata computed in the background once received
    return context


def create_app(settings: Settings, *, recover: bool = True, dicom_server: bool = False) -> Starlette:
    """``dicom_server``: also run the DICOM server (``net/scp.py``) in this process."""
    context = build_context(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await context.start(recover=recover)
        app.state.dicom_server = await scp.start(context) if dicom_server else None
        logger.info("orthanc_py %s: the REST API is ready", __version__)
        try:
            yield
        finally:
            await scp.stop(app.state.dicom_server)
            await context.stop()

    route_table: list[Route] = [
        *system.routes,
        *changes.routes,
        *tools.routes,
        *find.routes,
        *instances.routes,
        *images.routes,
        *metadata.routes,
        *labels.routes,
        *ordered_slices.routes,
        *resource_tags.routes,
        *resources.routes,
        *storage_commitment.routes,
        *jobs.routes,
        *peers.routes,
        *modalities.routes,
        *modality_find.routes,
        *queries.routes,
    ]
    route_table.append(Route("/tools", tools.make_tools_index(route_table), methods=["GET"]))
    if settings.read_only:  # Orthanc does not even offer uploads then
        route_table = [r for r in route_table if not (r.path == "/instances" and "POST" in (r.methods or ()))]
    route_table += [
        *dicomweb_routes(settings),  # under the configured DicomWeb "Root" and "WadoRoot"
        Route("/", root_redirect, methods=["GET"]),
        Route("/app/{path:path}", no_web_ui, methods=["GET"]),
    ]
    app = Starlette(
        routes=merge_routes(route_table),
        middleware=[Middleware(AccessControl, settings=settings)],
        exception_handlers={
            OrthancError: orthanc_error_handler,
            HTTPException: http_exception_handler,
            Exception: unexpected_error_handler,
        },
        lifespan=lifespan,
    )
    app.state.context = context
    return app


async def prepare(settings: Settings) -> None:
    """Open the index once (schema upgrades) and recover from a crash, then close everything."""
    context = build_context(settings)
    await context.start(recover=True, background=False)
    await context.stop()


async def serve(settings: Settings, *, listener: BalancedListener | None = None) -> bool:
    """Run the HTTP server until SIGINT/SIGTERM or ``POST /tools/shutdown``.

    Returns True when ``POST /tools/reset`` asked for a restart. One of several workers (see
    ``server.py``), serving the supervisor's ``listener``, leaves crash recovery to its supervisor
    and forwards shutdown and reset to it.
    """
    supervised = listener is not None
    from hypercorn.asyncio.run import worker_serve
    from hypercorn.config import Config, Sockets
    from hypercorn.utils import wrap_app

    tune_hypercorn()

    # With several processes, the DICOM server runs in its own process (server.py).
    app = create_app(settings, recover=not supervised, dicom_server=not supervised)
    stop = asyncio.Event()
    restart = False

    def request_restart() -> None:
        nonlocal restart
        restart = True
        stop.set()

    if supervised:
        supervisor = os.getppid()
        app.state.shutdown = lambda: os.kill(supervisor, signal.SIGTERM)
        app.state.restart = lambda: os.kill(supervisor, signal.SIGHUP)
    else:
        app.state.shutdown = stop.set
        app.state.restart = request_restart
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # pragma: no cover - not on POSIX
            pass
    config = Config()
    host = "0.0.0.0" if settings.remote_access_allowed else settings.http_bind
    config.bind = [f"{host}:{settings.http_port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.keep_alive_timeout = 30
    config.graceful_timeout = 2
    if not supervised:
        logger.warning("HTTP server listening on port %d", settings.http_port)
        logger.warning("Orthanc has started")
    tune_memory()
    # What hypercorn's serve() does, given the supervisor's socket if there is one (without one,
    # hypercorn binds config.bind itself).
    sockets: Sockets | None = None
    served: ASGIApp = app
    if listener is not None:
        sockets = Sockets(secure_sockets=[], insecure_sockets=[listener], quic_sockets=[])
        served = balancing(app, listener)
    wrapped = wrap_app(served, config.wsgi_max_body_size, "asgi")  # type: ignore[arg-type]
    await worker_serve(wrapped, config, sockets=sockets, shutdown_trigger=stop.wait)
    return restart
