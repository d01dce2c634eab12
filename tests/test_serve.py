"""`pycolorize serve`: the page's API through Starlette's TestClient (uploads, edits, bad requests,
sessions), the edit state's checks and masks against naive references, and the command line.
Edit latency is a benchmark (python -m pycolorize.serve.bench), not a timed test."""
import io
import json

import numpy as np
import pytest
from PIL import Image

from pycolorize.colorization import color
from pycolorize.colorization.colorizer import Colorizer

from test_colorizer import MINI, random_net

pytest.importorskip("starlette", reason="pycolorize serve needs Starlette (pip install \"pycolorize[serve]\")")
try:
    from starlette.testclient import TestClient
except (ImportError, RuntimeError) as e:  # it needs httpx2 (or the older httpx)
    pytest.skip(f"Starlette's TestClient cannot be used ({e}); pip install httpx2", allow_module_level=True)

from pycolorize.serve import session as sess  # noqa: E402
from pycolorize.serve.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from pycolorize import models

    d = tmp_path_factory.mktemp("serve")
    deploy = d / "deploy.prototxt"
    random_net(deploy, models.deploy_net(MINI, size=64)).save(str(d / "w.caffemodel.h5"))
    return str(deploy), str(d / "w.caffemodel.h5")


@pytest.fixture(scope="module")
def colorizer(model):
    return Colorizer(*model, size=64)


def png(array, fmt="PNG"):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def photo(seed, h=48, w=60):
    """A smooth random photo (uint8 RGB)."""
    rng = np.random.RandomState(seed)
    small = rng.rand(4, 5, 3)
    return (np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.BILINEAR))).copy()


def read(response):
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)))


def upload(client, data):
    r = client.post("/api/upload", content=data)
    assert r.status_code == 200, r.text
    return r.json()["session"]


def render(client, sid, state=None, path="/api/render"):
    return read(client.post(f"{path}?session={sid}", content=json.dumps(state or {})))


@pytest.fixture
def client(colorizer):
    return TestClient(create_app(colorizer, max_upload_bytes=200_000, max_pixels=100_000, max_sessions=3))


def test_page_and_static_files_come_from_memory_only(client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"] and "/static/app.js" in r.text
    assert client.get("/static/app.js").status_code == 200 and client.get("/static/style.css").status_code == 200
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fsession.py", "/static/static/app.js",
                 "/static/__init__.py", "/static//etc/passwd", "/app.py", "/api/../serve/app.py"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "import" not in r.text and "root:" not in r.text


def test_upload_render_and_download(client, colorizer):
    img = photo(0)
    sid = upload(client, png(img))
    gray = read(client.get(f"/api/gray?session={sid}"))
    assert gray.shape == (48, 60)
    np.testing.assert_allclose(gray / 255, color.gray(img / 255.0), atol=1 / 255 + 1e-6)
    # the default state is the Colorizer's automatic colorization
    want = (np.clip(colorizer.render(colorizer.prepare(img)), 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(render(client, sid), want)
    u = read(client.get(f"/api/uncertainty?session={sid}"))
    assert u.shape == (48, 60, 4) and u[..., 3].max() > 0
    # a hue pull towards blue turns the photo bluer
    blue = render(client, sid, {"hue": 2 / 3, "hue_strength": 10, "chroma": 5})
    h, c, _ = color.rgb_to_hcv(blue / 255.0)
    assert np.mean(np.abs(h[c > 0.05] - 2 / 3) < 0.1) > 0.8
    full = client.post(f"/api/download?session={sid}", content=json.dumps({"hue": 2 / 3, "hue_strength": 10, "chroma": 5}))
    assert "attachment" in full.headers["content-disposition"]
    np.testing.assert_array_equal(read(full), blue)  # the preview is the photo's size here


def test_preview_is_smaller_and_download_full_size(client, monkeypatch):
    monkeypatch.setattr(sess, "PREVIEW_SIDE", 30)
    sid = upload(client, png(photo(1, 90, 120)))
    assert render(client, sid).shape == (22, 30, 3)  # 90 x 30 / 120 = 22.5, rounded half to even
    assert render(client, sid, path="/api/download").shape == (90, 120, 3)


def test_a_stroke_pulls_its_region_towards_the_picked_colour(client, colorizer):
    sid = upload(client, png(photo(2, 64, 64)))
    before = render(client, sid) / 255.0
    stroke = {"points": [[0.25, 0.5], [0.75, 0.5]], "radius": 0.08, "color": "#e02020", "strength": 20}
    after = render(client, sid, {"strokes": [stroke]}) / 255.0
    y, x = np.mgrid[:64, :64] + 0.5
    d = np.hypot(np.maximum(np.maximum(16 - x, x - 48), 0), y - 32)  # distance to the segment, in pixels
    inside, outside = d < 0.08 * 64, d > 1.5 * 0.08 * 64 + 64 / 32 * 2  # beyond the soft edge and the upsampling
    pick_h, pick_c = sess.parse_color("#e02020")

    def distance(rgb):
        h, c, _ = color.rgb_to_hcv(rgb)
        dh = np.minimum(np.abs(h - pick_h), 1 - np.abs(h - pick_h))
        return np.hypot(c * np.cos(2 * np.pi * h) - pick_c * np.cos(2 * np.pi * pick_h),
                        c * np.sin(2 * np.pi * h) - pick_c * np.sin(2 * np.pi * pick_h)), dh

    (ab_before, _), (ab_after, dh_after) = distance(before[inside]), distance(after[inside])
    assert ab_after.mean() < 0.5 * ab_before.mean() and np.median(dh_after) < 0.05
    # unchanged, up to a float32 rounding that can flip the 8-bit truncation of a pixel
    np.testing.assert_allclose(after[outside], before[outside], atol=1 / 255 + 1e-9)
    # a later stroke of another colour over the same place replaces the first one there
    green = dict(stroke, color="#20c020")
    both = render(client, sid, {"strokes": [stroke, green]}) / 255.0
    h, c, _ = color.rgb_to_hcv(both[inside])
    assert np.median(np.abs(h - sess.parse_color("#20c020")[0])) < 0.05


def test_sample_decoding_and_reference_change_the_image(client):
    sid = upload(client, png(photo(3)))
    base = render(client, sid)
    one, two = render(client, sid, {"sample": 1}), render(client, sid, {"sample": 2})
    assert np.abs(one.astype(int) - base).mean() > 0.5 and np.abs(one.astype(int) - two).mean() > 0.5
    np.testing.assert_array_equal(render(client, sid, {"sample": 1}), one)  # a sample is reproducible
    assert np.abs(render(client, sid, {"param": "mode:mode"}).astype(int) - base).mean() > 0.1
    # without an uploaded reference, "reference" changes nothing; with a blue one, the photo turns blue
    np.testing.assert_array_equal(render(client, sid, {"reference": True}), base)
    blue = np.zeros((20, 20, 3), np.uint8)
    blue[..., 2] = 220
    r = client.post(f"/api/reference?session={sid}", content=png(blue))
    assert r.status_code == 200 and r.json() == {"ok": True}
    h, c, _ = color.rgb_to_hcv(render(client, sid, {"reference": True}) / 255.0)
    assert np.mean(np.abs(h[c > 0.03] - 2 / 3) < 1 / 16) > 0.7
    assert client.post(f"/api/reference?session={sid}", content=b"not an image").status_code == 415


def test_bad_uploads_get_a_clear_4xx_and_the_server_stays_up(client):
    jpeg = png(photo(4), "JPEG")
    cases = [(b"", 400, "empty"), (b"hello, not an image", 415, "not an image"),
             (jpeg[:len(jpeg) // 2], 415, "broken or truncated"), (png(photo(4))[:60], 415, ""),
             (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, 415, ""), (b"x" * 300_000, 413, "limit of 0 MB"),
             (png(np.zeros((400, 300, 3), np.uint8)), 413, "120000 pixels|400 x 300|300 x 400"),
             (png(np.zeros((1, 50, 3), np.uint8)), 415, "at least 2 x 2")]
    for data, status, words in cases:
        r = client.post("/api/upload", content=data)
        assert r.status_code == status, (data[:20], r.text)
        assert "error" in r.json()
    assert "megapixels" in client.post("/api/upload", content=png(np.zeros((400, 300, 3), np.uint8))).json()["error"]
    # any image format Pillow reads, gray, 16-bit, with alpha, palette
    for img in (photo(5), photo(5)[..., 0], (photo(5)[..., 0].astype(np.uint16) * 257), np.dstack([photo(5), photo(5)[..., :1]])):
        sid = upload(client, png(img))
        assert render(client, sid).shape == (48, 60, 3)
    assert upload(client, png(photo(5), "JPEG")) and upload(client, png(photo(5), "BMP"))
    pal = Image.fromarray(photo(5)).convert("P")
    buf = io.BytesIO()
    pal.save(buf, format="GIF")
    assert upload(client, buf.getvalue())


def asgi_post(app, path, chunks, headers=()):
    """POST `chunks` to the ASGI app straight (no test client that reads the body first): (status,
    JSON answer, how many chunks the app read)."""
    import asyncio

    it, read, sent = iter(chunks), [0], []

    async def receive():
        for chunk in it:
            read[0] += 1
            return {"type": "http.request", "body": chunk, "more_body": True}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [(b"host", b"127.0.0.1")] + [(k.encode(), v.encode()) for k, v in headers],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    asyncio.run(app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body), read[0]


def test_the_upload_limit_holds_while_the_body_streams_in(colorizer):
    app = create_app(colorizer, max_upload_bytes=200_000, max_pixels=100_000)
    chunk = b"x" * 50_000
    # no Content-Length: refused at the chunk that crosses the limit, the rest never read
    status, answer, read = asgi_post(app, "/api/upload", [chunk] * 100)
    assert (status, read) == (413, 5) and "limit of 0 MB" in answer["error"]
    # a Content-Length over the limit: refused before any of the body is read
    status, answer, read = asgi_post(app, "/api/upload", [chunk] * 100, [("content-length", "5000000")])
    assert (status, read) == (413, 0) and "4.8 MB" in answer["error"]
    # exactly the limit is allowed (and then found not to be an image); one byte more is not
    assert asgi_post(app, "/api/upload", [chunk] * 4)[0] == 415
    assert asgi_post(app, "/api/upload", [chunk] * 4, [("content-length", "200000")])[0] == 415
    assert asgi_post(app, "/api/upload", [chunk] * 4 + [b"x"])[0] == 413
    assert asgi_post(app, "/api/upload", [chunk] * 4 + [b"x"], [("content-length", "200001")])[:2] == (
        413, {"error": "the upload is 0.2 MB, more than this server's limit of 0 MB"})
    # a Content-Length that is no number is left to the streaming count
    assert asgi_post(app, "/api/upload", [chunk] * 100, [("content-length", "lots")])[0::2] == (413, 5)


def test_bad_edit_states_get_a_400_naming_the_field(client):
    sid = upload(client, png(photo(6)))
    for body, words in [("not json", "not valid JSON"), ("[1, 2]", "JSON object"), ('{"hue": "red"}', "'hue' must be a number"),
                        ('{"hue": NaN}', "'hue' must be a number"), ('{"chroma": true}', "'chroma'"),
                        ('{"param": "hue:chroma"}', "the decoding must be chroma:hue"), ('{"param": 3}', "decoding"),
                        ('{"strokes": 5}', "'strokes' must be a list"), ('{"strokes": [1]}', "JSON object"),
                        ('{"strokes": [{"points": [[0.1]]}]}', "points"), ('{"strokes": [{"points": []}]}', "points"),
                        ('{"strokes": [{"points": [["a", "b"]]}]}', "points"),
                        ('{"strokes": [{"points": [[0.1, 0.2]], "color": "red"}]}', "'#rrggbb'"),
                        ('{"strokes": [{"points": [[0.1, 0.2]], "color": "#gggggg"}]}', "'#rrggbb'"),
                        (json.dumps({"strokes": [{"points": [[0.1, 0.2]]}] * 201}), "at most 200"),
                        ("\xff\xfe", "not valid JSON")]:
        r = client.post(f"/api/render?session={sid}", content=body)
        assert r.status_code == 400 and words in r.json()["error"], (body[:40], r.text)
    assert client.post(f"/api/render?session={sid}", content="x" * (5 << 20)).status_code == 413
    # out-of-range numbers are clamped, not refused
    np.testing.assert_array_equal(render(client, sid, {"hue_strength": 1e9, "hue": 0.5}),
                                  render(client, sid, {"hue_strength": sess.HUE_STRENGTH_MAX, "hue": 0.5}))
    for path in ("/api/gray?session=nope", "/api/uncertainty", "/api/gray?session="):
        r = client.get(path)
        assert r.status_code == 404 and "upload the photo again" in r.json()["error"]
    assert client.post("/api/render?session=nope", content="{}").status_code == 404
    assert client.get("/api/render").status_code == 405 and client.post("/api/upload?x=../../etc", content=b"").status_code == 400
    assert render(client, sid).shape == (48, 60, 3)  # still up


def test_two_sessions_never_share_and_old_ones_expire(client):
    a_img, b_img = photo(7), np.ascontiguousarray(photo(8)[::-1])
    a, b = upload(client, png(a_img)), upload(client, png(b_img))
    assert a != b and len(a) >= 20
    a_first = render(client, a)
    render(client, b, {"hue": 0.2, "hue_strength": 10})
    client.post(f"/api/reference?session={b}", content=png(np.full((10, 10, 3), 200, np.uint8)))
    np.testing.assert_array_equal(render(client, a), a_first)
    np.testing.assert_array_equal(render(client, a, {"reference": True}), a_first)  # b's reference is b's
    assert np.abs(read(client.get(f"/api/gray?session={a}")) / 255 - color.gray(a_img / 255.0)).max() <= 1 / 255 + 1e-6
    assert np.abs(read(client.get(f"/api/gray?session={b}")) / 255 - color.gray(b_img / 255.0)).max() <= 1 / 255 + 1e-6
    client.get(f"/api/gray?session={a}")  # a was used last
    upload(client, png(photo(9)))
    upload(client, png(photo(10)))  # max_sessions=3: the least recently used (b) goes
    assert client.get(f"/api/gray?session={b}").status_code == 404
    assert client.get(f"/api/gray?session={a}").status_code == 200


def test_a_bug_is_a_500_and_the_server_stays_up(client, monkeypatch):
    sid = upload(client, png(photo(11)))
    monkeypatch.setattr(sess.Session, "render", lambda *a, **k: 1 / 0)
    r = client.post(f"/api/render?session={sid}", content="{}")
    assert r.status_code == 500 and "internal error" in r.json()["error"]
    monkeypatch.undo()
    assert render(client, sid).shape == (48, 60, 3)


def test_stroke_mask_against_a_naive_reference():
    rng = np.random.RandomState(0)
    y, x = np.mgrid[:20, :30].astype(np.float32) + 0.5
    # inside the grid, and partly or wholly outside it (a stroke off the photo's edge)
    for pts in (rng.rand(5, 2) * [30, 20], np.array([[-8.0, 3], [12, -2], [40, 25]]), np.array([[-20.0, -20], [-9, 30]])):
        got = sess.stroke_mask(y, x, pts, 4.0)
        # naive: the distance to the polyline as the minimum over densely sampled points along it
        t = np.linspace(0, 1, 2001)[:, None]
        dense = np.concatenate([a + t * (b - a) for a, b in zip(pts, pts[1:])])
        d = np.sqrt(((np.stack([x, y], -1)[..., None, :] - dense) ** 2).sum(-1)).min(-1)
        want = np.clip((6.0 - d) / 2.0, 0, 1)
        np.testing.assert_allclose(got, want, atol=0.01)
    pts = rng.rand(5, 2) * [30, 20]
    assert sess.stroke_mask(y, x, pts[:1], 4.0).max() == 1  # a single click is a disc


def test_parse_state_defaults_and_colours():
    s = sess.parse_state({})
    assert s == {"hue": 0.0, "hue_strength": 0.0, "chroma": 0.0, "sample": 0, "reference": False,
                 "param": "median:expectation-cf", "strokes": []}
    h, c = sess.parse_color("#0000ff")
    assert h == pytest.approx(2 / 3) and c == pytest.approx(1)


def test_parse_state_clamps_each_field_to_its_range():
    s = sess.parse_state({"hue": 1.5, "hue_strength": -3, "chroma": -1e9, "sample": 2.7, "reference": 1,
                          "param": "mode:expectation"})
    assert s == {"hue": 1.0, "hue_strength": 0.0, "chroma": -sess.CHROMA_MAX, "sample": 2, "reference": True,
                 "param": "mode:expectation", "strokes": []}
    s = sess.parse_state({"hue": -0.5, "hue_strength": 1e9, "chroma": 1e9, "sample": 1e9})
    assert (s["hue"], s["hue_strength"], s["chroma"], s["sample"]) == (0.0, sess.HUE_STRENGTH_MAX, sess.CHROMA_MAX,
                                                                       1_000_000)
    s = sess.parse_state({"hue": 0.25, "hue_strength": 3, "chroma": -2.5})
    assert (s["hue"], s["hue_strength"], s["chroma"]) == (0.25, 3.0, -2.5) and type(s["hue_strength"]) is float
    stroke = sess.parse_state({"strokes": [{"points": [[0.123456789, -2], [9, 0.5]]}]})["strokes"][0]
    assert stroke == {"points": [[0.12346, -0.5], [1.5, 0.5]], "radius": 0.03, "color": "#ff0000", "strength": 8.0}
    stroke = sess.parse_state({"strokes": [{"points": [[0.5, 0.5]], "radius": 9, "strength": 99,
                                            "color": "#00ff00"}]})["strokes"][0]
    assert (stroke["radius"], stroke["strength"], stroke["color"]) == (0.5, sess.STROKE_STRENGTH_MAX, "#00ff00")
    assert sess.parse_state({"strokes": [{"points": [[0.5, 0.5]], "radius": 0}]})["strokes"][0]["radius"] == 0.001
    # the limits: at most MAX_STROKES strokes of 1 to MAX_POINTS points
    one = {"points": [[0.5, 0.5]]}
    assert len(sess.parse_state({"strokes": [one] * sess.MAX_STROKES})["strokes"]) == sess.MAX_STROKES
    with pytest.raises(sess.BadRequest, match="at most 200 strokes"):
        sess.parse_state({"strokes": [one] * (sess.MAX_STROKES + 1)})
    assert len(sess.parse_state({"strokes": [{"points": [[0.1, 0.2]] * sess.MAX_POINTS}]})["strokes"][0]["points"]) == 5000
    for bad in ([[0.1, 0.2]] * (sess.MAX_POINTS + 1), [], [[0.1, float("nan")]], [[0.1, 0.2, 0.3]], [0.1, 0.2]):
        with pytest.raises(sess.BadRequest, match="1 to 5000 pairs"):
            sess.parse_state({"strokes": [{"points": bad}]})
    for v in (True, "1", None, float("inf"), [1]):
        with pytest.raises(sess.BadRequest, match="'hue' must be a number") as e:
            sess.parse_state({"hue": v})
        assert e.value.status == 400


def test_parse_color_by_hand():
    assert sess.parse_color("#ff0000") == (0.0, 1.0)
    h, c = sess.parse_color("#80ff80")  # light green: hue 1/3, chroma (255 - 128) / 255
    assert h == pytest.approx(1 / 3) and c == pytest.approx(127 / 255)
    h, c = sess.parse_color("#FF00ff")  # magenta, upper or lower case
    assert h == pytest.approx(5 / 6) and c == 1.0
    assert sess.parse_color("#777777") == (0.0, 0.0)
    for bad in ("ff0000", "#ff000", "#ff00000", "#gg0000", 0xff0000, "red0000"):
        with pytest.raises(sess.BadRequest, match="'#rrggbb'"):
            sess.parse_color(bad)


def test_decode_upload_limits_by_hand():
    img = png(photo(9, h=20, w=30))
    assert sess.decode_upload(img, 600).shape == (20, 30, 3)  # exactly the limit
    with pytest.raises(sess.BadRequest, match="30 x 20 pixels, more than this server's limit of 0 megapixels") as e:
        sess.decode_upload(img, 599)
    assert e.value.status == 413
    assert sess.decode_upload(png(np.zeros((2, 2, 3), np.uint8)), 600).shape == (2, 2, 3)
    for shape in ((1, 9, 3), (9, 1, 3)):
        with pytest.raises(sess.BadRequest, match="needs at least 2 x 2") as e:
            sess.decode_upload(png(np.zeros(shape, np.uint8)), 600)
        assert e.value.status == 415
    with pytest.raises(sess.BadRequest, match="not an image") as e:
        sess.decode_upload(b"plain text", 600)
    assert e.value.status == 415


def test_the_api_answers_in_detail(colorizer, monkeypatch, caplog):
    # each endpoint's status, content type, headers and fields; the limits named in MB; the overlay's
    # colour and opacity from the session's own uncertainty
    app = create_app(colorizer, max_upload_bytes=3 << 20, max_pixels=100_000)
    client = TestClient(app)
    r = client.post("/api/upload", content=png(photo(13)))
    assert r.status_code == 200 and set(r.json()) == {"session", "width", "height", "preview"}
    sid = r.json()["session"]
    assert (r.json()["width"], r.json()["height"], r.json()["preview"]) == (60, 48, [60, 48])
    session = app.state.sessions[sid]
    for method, path in (("get", "/api/gray"), ("get", "/api/uncertainty"), ("post", "/api/render"),
                         ("post", "/api/download")):
        r = getattr(client, method)(f"{path}?session={sid}", **({"content": "{}"} if method == "post" else {}))
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", path
    assert r.headers["content-disposition"] == 'attachment; filename="colorized.png"'
    r = client.post(f"/api/render?session={sid}", content="{}")
    assert 0 <= int(r.headers["x-render-ms"]) < 60_000
    heat = np.asarray(Image.open(io.BytesIO(client.get(f"/api/uncertainty?session={sid}").content)))
    u = session.uncertainty()
    assert heat.shape == u.shape + (4,)
    assert (heat[..., 0] == 255).all() and (heat[..., 1] == 25).all() and (heat[..., 2] == 178).all()
    np.testing.assert_array_equal(heat[..., 3], (np.clip(0.85 * u, 0, 1) * 255).astype(np.uint8))
    r = client.get("/static/style.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    r = client.get("/static/" + "z" * 300)
    assert r.status_code == 404 and r.json() == {"error": f"no such file: {'z' * 100!r}"}
    # limits and messages
    r = client.post("/api/upload", content=b"")
    assert (r.status_code, r.json()) == (400, {"error": "the upload is empty: choose a photo"})
    r = client.post("/api/upload", content=b"x" * ((3 << 20) + 1))
    assert r.status_code == 413 and r.json()["error"].endswith("more than this server's limit of 3 MB")
    r = client.post(f"/api/reference?session={sid}", content=png(np.zeros((400, 300, 3), np.uint8)))
    assert r.status_code == 413 and "megapixels" in r.json()["error"]  # the pixel limit holds for references too
    r = client.get("/api/gray?session=nope")
    assert (r.status_code, r.json()) == (404, {"error": "this photo's session has expired or never existed: upload the "
                                                        "photo again"})
    # the reference's bias: Eq. 5 with lambda 10 on REFERENCE_PIXELS network pixels
    calls = []
    monkeypatch.setattr(colorizer, "reference_bias", lambda *a: calls.append(a[2:]) or None)
    assert client.post(f"/api/reference?session={sid}", content=png(photo(14))).json() == {"ok": True}
    from pycolorize.serve.app import REFERENCE_PIXELS

    assert calls == [(10.0, REFERENCE_PIXELS)]
    # out of memory: 507 with its message; a bug: 500, logged with the method and path
    monkeypatch.setattr(sess.Session, "render", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    r = client.post(f"/api/render?session={sid}", content="{}")
    assert (r.status_code, r.json()) == (507, {"error": "the server ran out of memory for this photo; try a smaller one"})
    monkeypatch.setattr(sess.Session, "render", lambda *a, **k: 1 / 0)
    with caplog.at_level("ERROR"):
        r = client.post(f"/api/render?session={sid}", content="{}")
    assert (r.status_code, r.json()) == (500, {"error": "internal error (see the server's log)"})
    assert any(rec.getMessage() == "POST /api/render failed" for rec in caplog.records)


def test_the_page_needs_a_hue_chroma_net():
    from pycolorize.models import spaces

    class Lab:
        variant, space = "lab_l2", spaces.space("lab_l2")
    with pytest.raises(ValueError, match=r"^the page edits hue/chroma histograms; this net predicts lab_l2$"):
        create_app(Lab())


def test_eight_sessions_by_default(colorizer):
    client = TestClient(create_app(colorizer))
    ids = [upload(client, png(photo(20 + i, h=16, w=20))) for i in range(9)]
    assert client.get(f"/api/gray?session={ids[0]}").status_code == 404  # the least recently used went
    assert all(client.get(f"/api/gray?session={i}").status_code == 200 for i in ids[1:])


def test_png_truncates_to_eight_bits_after_clipping():
    from pycolorize.serve.app import _png

    rgb = np.array([[[-0.5, 0.0, 0.5], [1.0, 1.5, 0.999]]])
    got = np.asarray(Image.open(io.BytesIO(_png(rgb))))
    assert got.dtype == np.uint8 and got.tolist() == [[[0, 0, 127], [255, 255, 254]]]  # (0.5 * 255) -> 127
    assert np.asarray(Image.open(io.BytesIO(_png(np.full((2, 3), 2.0))))).tolist() == [[255] * 3] * 2  # gray


def test_the_page_and_its_messages_word_for_word(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["x-content-type-options"] == "nosniff"
    with pytest.raises(sess.BadRequest, match=r"^the edit state must be a JSON object$"):
        sess.parse_state([])
    with pytest.raises(sess.BadRequest, match=r"^each stroke must be a JSON object$"):
        sess.parse_state({"strokes": [[0.1, 0.2]]})
    with pytest.raises(sess.BadRequest, match=r"the decoding must be chroma:hue .*; got '3'$"):
        sess.parse_state({"param": 3})  # a value that is no string is named as written
    long = "#" + "a" * 500
    for f, arg in ((sess.parse_color, long), (sess.parse_state, {"hue": "x" * 500})):
        with pytest.raises(sess.BadRequest) as e:
            f(arg)
        assert len(str(e.value)) == 200  # long values are cut, the message stays one short line
    with pytest.raises(sess.BadRequest) as e:
        sess.decode_upload(b"plain text", 10)
    assert str(e.value) == "not an image (or not a format Pillow reads: PNG, JPEG, TIFF, WebP, BMP, GIF, ...)"
    jpeg = png(photo(3), "JPEG")
    with pytest.raises(sess.BadRequest) as e:
        sess.decode_upload(jpeg[:len(jpeg) // 2], 10 ** 6)
    text = str(e.value)
    assert text.startswith("a broken or truncated image (") and text.endswith(")") and "  " not in text
    assert len(text) <= len("a broken or truncated image ()") + 200 and "\n" not in text
    with pytest.raises(sess.BadRequest) as e:  # 1.5 megapixels rounds to 2
        sess.decode_upload(png(np.zeros((1300, 1200, 3), np.uint8)), 1_500_000)
    assert str(e.value) == "the photo has 1200 x 1300 pixels, more than this server's limit of 2 megapixels"
    with pytest.raises(sess.BadRequest) as e:
        sess.decode_upload(png(np.zeros((7, 1, 3), np.uint8)), 10 ** 6)
    assert str(e.value) == "the photo is 1 x 7 pixels; it needs at least 2 x 2"


def test_an_upload_is_turned_upright_by_its_exif_orientation():
    # a 30 x 20 JPEG whose EXIF says "rotate 90 degrees clockwise to view" (orientation 6) is 20 x 30
    buf = io.BytesIO()
    im = Image.fromarray(photo(12, h=20, w=30))
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(buf, format="JPEG", exif=exif.tobytes())
    upright = sess.decode_upload(buf.getvalue(), 10 ** 6)
    assert upright.shape == (30, 20, 3)
    raw = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    np.testing.assert_array_equal(upright, np.rot90(raw, -1))


def test_stroke_mask_on_one_row_and_for_a_short_segment():
    # a grid of one row; a segment shorter than a pixel (the projection onto it still applies)
    y, x = np.mgrid[:1, :12].astype(np.float32) + 0.5
    got = sess.stroke_mask(y, x, np.array([[3.0, 0.5], [3.4, 0.5]]), 1.0)
    d = np.where(x[0] < 3.0, 3.0 - x[0], np.where(x[0] > 3.4, x[0] - 3.4, 0.0))
    np.testing.assert_allclose(got[0], np.clip((1.5 - d) / 0.5, 0, 1), atol=1e-6)
    assert got.dtype == np.float32 and got.shape == (1, 12)
    y, x = np.mgrid[:6, :6].astype(np.float32) + 0.5
    m = sess.stroke_mask(y, x, np.array([[2.5, 2.5], [2.9, 2.5]]), 2.0)
    dist = np.hypot(np.clip(x, 2.5, 2.9) - x, y - 2.5)
    np.testing.assert_allclose(m, np.clip((3.0 - dist) / 1.0, 0, 1), atol=1e-5)


def test_serve_cli_needs_a_model(tmp_path, capsys, monkeypatch, model):
    from pycolorize.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["serve"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "run `pycolorize demo`" in err and "Traceback" not in err
    assert main(["serve", "--weights", str(tmp_path / "nope.h5"), "--prototxt", model[0]]) == 1
    assert "--weights" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["serve", "--prototxt", model[0], "--weights", model[1], "--port", "70000"])
    assert e.value.code == 2
    for bad in (["--max-sessions", "0"], ["--max-upload-mb", "-1"], ["--max-megapixels", "nan"]):
        with pytest.raises(SystemExit) as e:
            main(["serve", "--prototxt", model[0], "--weights", model[1], *bad])
        assert e.value.code == 2 and bad[0] in capsys.readouterr().err


def test_serve_cli_serves_the_page_on_the_model_it_names(capsys, monkeypatch, model):
    # the command's whole path up to the server: the model loaded, the app made with the limits asked,
    # uvicorn started on the host and port asked (recorded here instead of listening)
    import sys

    import uvicorn

    from pycolorize.cli import main

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app, **kw))
    assert main(["serve", "--prototxt", model[0], "--weights", model[1], "--size", "64", "--port", "8123",
                 "--max-sessions", "1", "--max-upload-mb", "0.05"]) in (0, None)
    assert capsys.readouterr().out == "pycolorize serve: open http://127.0.0.1:8123/ (Ctrl-C stops)\n"
    assert (started["host"], started["port"]) == ("127.0.0.1", 8123)
    client = TestClient(started["app"], base_url="http://127.0.0.1:8123")
    assert client.get("/").status_code == 200
    assert client.post("/api/upload", content=b"x" * 60_000).status_code == 413  # --max-upload-mb 0.05
    ids = [upload(client, png(photo(20 + i, h=16, w=20))) for i in range(2)]
    assert client.get(f"/api/gray?session={ids[0]}").status_code == 404  # --max-sessions 1
    # without the serve extra: one line saying what to install
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["serve", "--prototxt", model[0], "--weights", model[1]]) == 1
    assert capsys.readouterr().err.strip() == 'pycolorize serve: uvicorn: not installed; pip install "pycolorize[serve]"'


def test_concurrent_sessions_each_see_their_own_photo(colorizer):
    from concurrent.futures import ThreadPoolExecutor

    app = create_app(colorizer, max_sessions=8)
    photos = [photo(20 + i) for i in range(4)]

    def one(img):
        with TestClient(app) as client:  # one client per "tab", all at once
            sid = upload(client, png(img))
            return sid, render(client, sid, {"hue": 0.5, "hue_strength": 2}), read(client.get(f"/api/gray?session={sid}"))

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, photos))
    assert len({sid for sid, _, _ in results}) == 4
    for img, (_, _, gray) in zip(photos, results):
        assert np.abs(gray / 255 - color.gray(img / 255.0)).max() <= 1 / 255 + 1e-6
    alone = TestClient(create_app(colorizer))
    for img, (_, rgb, _) in zip(photos, results):
        np.testing.assert_array_equal(rgb, render(alone, upload(alone, png(img)), {"hue": 0.5, "hue_strength": 2}))


def test_a_loopback_server_answers_only_requests_that_name_it(colorizer):
    from pycolorize.serve.app import LOOPBACK_HOSTS

    app = create_app(colorizer, allowed_hosts=LOOPBACK_HOSTS)
    assert TestClient(app, base_url="http://127.0.0.1:8000").get("/").status_code == 200
    assert TestClient(app, base_url="http://localhost:8000").get("/").status_code == 200
    assert TestClient(app, base_url="http://evil.example:8000").get("/").status_code == 400  # DNS rebinding
    page = TestClient(app, base_url="http://127.0.0.1:8000").get("/")
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_later_strokes_replace_earlier_ones_where_they_cover_them(colorizer):
    # biases = global + sum_i m_i prod_{j > i} (1 - m_j) toward_i, written out naively here
    from pycolorize.colorization import sampling
    from pycolorize.serve.session import Session, parse_color, parse_state

    s = Session(colorizer, photo(5))
    strokes = [{"points": [[0.2, 0.3], [0.7, 0.4]], "radius": 0.15, "color": "#d02020"},
               {"points": [[0.5, 0.2], [0.5, 0.8]], "radius": 0.1, "color": "#2040e0"},
               {"points": [[0.4, 0.5]], "radius": 0.2, "color": "#20c040", "strength": 3.0}]
    state = parse_state({"strokes": strokes})
    got = s.biases(state)
    base = s.biases(parse_state({}))
    masks = [s._mask(st) for st in state["strokes"]]
    assert all(m.max() > 0.5 for m in masks) and (masks[0] * masks[1] * masks[2]).max() > 0.1  # they overlap
    k_h, k_c = colorizer.bins["hue"], colorizer.bins["chroma"]
    for key, k in (("hue", k_h), ("chroma", k_c)):
        want = np.broadcast_to(base[key], got[key].shape).astype(np.float64).copy()
        for i, st in enumerate(state["strokes"]):
            m = masks[i].astype(np.float64)
            for later in masks[i + 1:]:
                m = m * (1 - later)
            t = sampling.toward_bias(*parse_color(st["color"]), st["strength"], k_h, k_c)[0 if key == "hue" else 1]
            want += m[..., None] * t
        np.testing.assert_allclose(got[key], want, atol=1e-5)
