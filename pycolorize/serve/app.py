"""The Starlette application of `pycolorize serve` (see pycolorize.serve).

Routes (a session id is a random token the page gets from its upload and keeps in memory, so two
tabs never share a photo; nothing is stored in cookies or on disk):

    GET  /                          the page
    GET  /static/<name>             the page's script and style, served from memory by exact name
    POST /api/upload                body: the photo's bytes -> {"session", "width", "height", "preview"}
                                    (runs the net; 413 too large, 415 not an image)
    GET  /api/gray?session=         the lightness at the preview size (PNG)
    GET  /api/uncertainty?session=  hue entropy x chroma at the preview size (PNG, gray)
    POST /api/render?session=       body: an edit state (JSON) -> the colorization at the preview size (PNG)
    POST /api/download?session=     body: an edit state -> the colorization at the photo's size (PNG)
    POST /api/reference?session=    body: a reference photo's bytes -> {"ok": true} (Eq. 5's bias solved)

Every error is a JSON {"error": message} with a 4xx status (5xx only for a bug, which is logged and
answered without stopping the server).
"""
import asyncio
import io
import json
import logging
import threading
import time
from collections import OrderedDict
from importlib import resources

import numpy as np
from PIL import Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .session import BadRequest, Session, decode_upload, new_id, parse_state

log = logging.getLogger("pycolorize.serve")

STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}
REFERENCE_PIXELS = 5000  # network pixels the reference's Eq. 5 solve uses (the CLI's 20000 takes 4x as long)


def _png(rgb):
    """float [0, 1] (H, W[, 3]) -> PNG bytes, truncated to 8 bits as `pycolorize colorize` saves."""
    buf = io.BytesIO()
    Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
# the page needs nothing but its own files and the images it fetches (blob: URLs)
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                                           "base-uri 'none'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff"}


def create_app(colorizer, max_upload_bytes=40 << 20, max_pixels=50_000_000, max_sessions=8, allowed_hosts=None):
    """The application for one Colorizer (a hue/chroma net). Sessions beyond max_sessions drop the
    least recently used. `allowed_hosts`: the Host headers answered (the rest get 400), e.g.
    LOOPBACK_HOSTS for a server on 127.0.0.1, so that a web site cannot reach it by DNS rebinding;
    None answers any."""
    if not colorizer.space.hue_chroma:
        raise ValueError(f"the page edits hue/chroma histograms; this net predicts {colorizer.variant}")
    files = {name: resources.files(__package__).joinpath("static", name).read_bytes() for name in STATIC}
    sessions = OrderedDict()
    sessions_lock, net_lock = threading.Lock(), threading.Lock()

    def session_of(request):
        sid = request.query_params.get("session", "")
        with sessions_lock:
            s = sessions.get(sid)
            if s is not None:
                sessions.move_to_end(sid)
        if s is None:
            raise BadRequest("this photo's session has expired or never existed: upload the photo again", 404)
        return s

    async def body(request, limit):
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > limit:
            raise BadRequest(f"the upload is {int(size) / 2**20:.1f} MB, more than this server's limit of "
                             f"{limit / 2**20:.0f} MB", 413)
        chunks, total = [], 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise BadRequest(f"the upload is more than this server's limit of {limit / 2**20:.0f} MB", 413)
            chunks.append(chunk)
        if not total:
            raise BadRequest("the upload is empty: choose a photo", 400)
        return b"".join(chunks)

    async def state_of(request):
        try:
            return parse_state(json.loads(await body(request, 4 << 20)))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadRequest("the edit state is not valid JSON") from None

    async def page(request):
        return Response(files["index.html"], media_type=STATIC["index.html"], headers=PAGE_HEADERS)

    async def static(request):
        name = request.path_params["name"]
        if name not in STATIC:  # only these names, from memory: no request path reaches the file system
            raise BadRequest(f"no such file: {name[:100]!r}", 404)
        return Response(files[name], media_type=STATIC[name], headers=PAGE_HEADERS)

    async def upload(request):
        data = await body(request, max_upload_bytes)
        image = await run_in_threadpool(decode_upload, data, max_pixels)
        del data

        def prepare():
            with net_lock:  # one forward at a time: the net's blobs are shared
                return Session(colorizer, image)

        s = await run_in_threadpool(prepare)
        sid = new_id()
        with sessions_lock:
            sessions[sid] = s
            while len(sessions) > max_sessions:
                sessions.popitem(last=False)
        return JSONResponse({"session": sid, "width": s.width, "height": s.height,
                             "preview": [s.preview[1], s.preview[0]]})

    async def gray(request):
        s = session_of(request)
        return Response(await run_in_threadpool(lambda: _png(s.gray())), media_type="image/png")

    async def uncertainty(request):
        s = session_of(request)
        def heat():  # an overlay: magenta, as opaque as the pixel is uncertain
            u = s.uncertainty()
            return _png(np.stack([np.ones_like(u), np.full_like(u, 0.1), np.full_like(u, 0.7), 0.85 * u], axis=-1))

        return Response(await run_in_threadpool(heat), media_type="image/png")

    async def render(request):
        s = session_of(request)
        state = await state_of(request)
        start = time.perf_counter()
        png = await run_in_threadpool(lambda: _png(s.render(state)))
        return Response(png, media_type="image/png",
                        headers={"X-Render-Ms": f"{(time.perf_counter() - start) * 1000:.0f}"})

    async def download(request):
        s = session_of(request)
        state = await state_of(request)
        png = await run_in_threadpool(lambda: _png(s.render(state, full=True)))
        return Response(png, media_type="image/png",
                        headers={"Content-Disposition": 'attachment; filename="colorized.png"'})

    async def reference(request):
        s = session_of(request)
        image = await run_in_threadpool(decode_upload, await body(request, max_upload_bytes), max_pixels)
        s.reference = await run_in_threadpool(colorizer.reference_bias, s.pred, image, 10.0, REFERENCE_PIXELS)
        return JSONResponse({"ok": True})

    def guarded(handler):
        async def run(request):
            try:
                return await handler(request)
            except BadRequest as e:
                return JSONResponse({"error": str(e)}, status_code=e.status)
            except asyncio.CancelledError:
                raise
            except MemoryError:
                return JSONResponse({"error": "the server ran out of memory for this photo; try a smaller one"}, 507)
            except Exception:  # a bug: logged, answered, and the server stays up
                log.exception("%s %s failed", request.method, request.url.path)
                return JSONResponse({"error": "internal error (see the server's log)"}, status_code=500)
        return run

    routes = [Route("/", guarded(page)), Route("/static/{name:path}", guarded(static)),
              Route("/api/upload", guarded(upload), methods=["POST"]), Route("/api/gray", guarded(gray)),
              Route("/api/uncertainty", guarded(uncertainty)), Route("/api/render", guarded(render), methods=["POST"]),
              Route("/api/download", guarded(download), methods=["POST"]),
              Route("/api/reference", guarded(reference), methods=["POST"])]
    middleware = []
    if allowed_hosts is not None:
        from starlette.middleware import Middleware
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    app = Starlette(routes=routes, middleware=middleware)
    app.state.sessions = sessions
    return app
