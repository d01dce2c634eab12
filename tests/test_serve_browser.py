"""`pycolorize serve` in a real browser: headless Chromium from the system's packages (Debian's
chromium and chromium-driver; never a browser download), driven by Selenium. It loads the page,
uploads a photo, waits for the colorization, moves the hue sliders and checks that the image
changed, brushes a stroke and checks that the region's colour moved towards the picked colour while
the rest stayed, undoes it, shows a bad upload's message, and saves screenshots.

Skips, saying why, where selenium, chromium or chromedriver is missing. Environment:
PYCOLORIZE_SERVE_SCREENSHOTS=DIR also writes the screenshots to DIR; PYCOLORIZE_SERVE_MODEL=DIR
uses DIR/deploy.prototxt and DIR/model.caffemodel.h5 (the demo's model: what docs/serve/ shows)
instead of the tests' tiny random net.
"""
import os
import shutil
import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

from pycolorize.colorization import color
from pycolorize.colorization.colorizer import Colorizer

from test_colorizer import MINI, random_net

pytest.importorskip("starlette", reason="pycolorize serve needs Starlette (pip install \"pycolorize[serve]\")")
pytest.importorskip("uvicorn", reason="pycolorize serve needs uvicorn (pip install \"pycolorize[serve]\")")
pytest.importorskip("selenium", reason="the browser test drives Chromium with selenium (pip install selenium)")
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")
if not CHROMIUM or not CHROMEDRIVER:
    pytest.skip("no system Chromium and chromedriver (Debian: apt-get install chromium chromium-driver)",
                allow_module_level=True)

import uvicorn  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from pycolorize.serve import session as sess  # noqa: E402
from pycolorize.serve.app import LOOPBACK_HOSTS, create_app  # noqa: E402

PICKED = "#2a6ad8"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    model = os.environ.get("PYCOLORIZE_SERVE_MODEL")
    if model:
        colorizer = Colorizer(os.path.join(model, "deploy.prototxt"), os.path.join(model, "model.caffemodel.h5"))
    else:
        from pycolorize import models

        d = tmp_path_factory.mktemp("browser")
        random_net(d / "deploy.prototxt", models.deploy_net(MINI, size=64)).save(str(d / "w.h5"))
        colorizer = Colorizer(str(d / "deploy.prototxt"), str(d / "w.h5"), size=64)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(colorizer, allowed_hosts=LOOPBACK_HOSTS)  # as `pycolorize serve` makes it
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "the server did not start"
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(arg)
    try:
        # The browser without the sanitizer runtime that tools/sanitize_tests.sh preloads into Python (the
        # server under test runs in this process, with the sanitized core).
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER, env=env), options=options)
    except WebDriverException as e:
        pytest.skip(f"the system's Chromium does not start here: {' '.join(str(e).split())[:300]}")
    yield driver
    driver.quit()


def real_photo(path):
    """A real photo (scikit-image's coffee, downsized) where scikit-image is there, else a smooth synthetic one."""
    try:
        from skimage import data

        img = Image.fromarray(data.coffee()).resize((300, 200), Image.BICUBIC)
    except ImportError:
        rng = np.random.RandomState(0)
        img = Image.fromarray((rng.rand(4, 6, 3) * 255).astype(np.uint8)).resize((300, 200), Image.BILINEAR)
    img.save(path)
    return path


PIXELS = """
const img = document.getElementById('result');
const c = document.createElement('canvas');
c.width = img.naturalWidth; c.height = img.naturalHeight;
const g = c.getContext('2d');
g.drawImage(img, 0, 0);
return [c.width, c.height, Array.from(g.getImageData(0, 0, c.width, c.height).data)];
"""


def pixels(driver):
    w, h, data = driver.execute_script(PIXELS)
    return np.asarray(data, np.uint8).reshape(h, w, 4)[..., :3] / 255.0


def renders(driver):
    return int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-renders") or 0)


def settle(driver, after, timeout=60):
    """Wait until more than `after` renders are done and the last one shows the page's current state."""
    WebDriverWait(driver, timeout).until(lambda d: renders(d) > after and d.execute_script(
        "return !rendering && !wanted && document.body.dataset.rendered === JSON.stringify(state)"))


def shot(driver, tmp_path, name):
    driver.save_screenshot(str(tmp_path / name))
    out = os.environ.get("PYCOLORIZE_SERVE_SCREENSHOTS")
    if out:
        os.makedirs(out, exist_ok=True)
        driver.save_screenshot(os.path.join(out, name))


def click_at(driver, element, fraction):
    """Click a slider at `fraction` of its width (Selenium's offsets are from the element's centre)."""
    width = element.size["width"]
    ActionChains(driver).move_to_element_with_offset(element, int((fraction - 0.5) * (width - 2)), 0).click().perform()


def test_recolour_a_photo_in_the_browser(server, browser, tmp_path):
    d = browser
    d.get(server)
    assert "pycolorize" in d.title
    d.find_element(By.ID, "file").send_keys(real_photo(str(tmp_path / "coffee.png")))
    settle(d, 0, timeout=300)
    assert d.find_element(By.ID, "busy").get_attribute("hidden") is not None
    auto = pixels(d)
    assert auto.shape == (200, 300, 3)
    shot(d, tmp_path, "1_uploaded.png")

    # the hue sliders: a pull towards a hue, then another hue; each changes the image
    n = renders(d)
    click_at(d, d.find_element(By.ID, "hueStrength"), 0.35)
    settle(d, n)
    n = renders(d)
    click_at(d, d.find_element(By.ID, "hue"), 0.6)
    settle(d, n)
    hue_a = pixels(d)
    n = renders(d)
    click_at(d, d.find_element(By.ID, "hue"), 0.1)
    settle(d, n)
    hue_b = pixels(d)
    assert np.abs(hue_a - auto).mean() > 0.005 and np.abs(hue_b - hue_a).mean() > 0.005
    shot(d, tmp_path, "2_hue.png")

    # the brush: a horizontal stroke across the middle, towards the picked colour
    d.find_element(By.ID, "brushOn").click()
    d.execute_script(f"document.getElementById('brushColor').value = '{PICKED}';"
                     "document.getElementById('brushStrength').value = 30;"
                     "document.getElementById('brushSize').value = 6;")
    canvas = d.find_element(By.ID, "brush")
    cw = canvas.size["width"]
    n = renders(d)
    ActionChains(d).move_to_element_with_offset(canvas, -cw // 4, 0).click_and_hold() \
        .move_by_offset(cw // 8, 0).move_by_offset(cw // 8, 0).move_by_offset(cw // 8, 0).move_by_offset(cw // 8, 0) \
        .release().perform()
    settle(d, n)
    brushed = pixels(d)
    shot(d, tmp_path, "3_brushed.png")
    stroke = d.execute_script("return state.strokes[0]")
    assert stroke["color"] == PICKED and len(stroke["points"]) >= 3
    pts = np.asarray(stroke["points"]) * [300, 200]
    y, x = np.mgrid[:200, :300] + 0.5
    near = sess.stroke_mask(y.astype(np.float32), x.astype(np.float32), pts, stroke["radius"] * 300)
    inside, outside = near >= 1, sess.stroke_mask(y.astype(np.float32), x.astype(np.float32), pts,
                                                   stroke["radius"] * 300 + 300 / 64 * 3) == 0
    assert inside.sum() > 100 and outside.sum() > 10000
    pick_h, pick_c = sess.parse_color(PICKED)
    target = pick_c * np.array([np.cos(2 * np.pi * pick_h), np.sin(2 * np.pi * pick_h)])

    def to_target(rgb):
        h, c, _ = color.rgb_to_hcv(rgb)
        return np.hypot(c * np.cos(2 * np.pi * h) - target[0], c * np.sin(2 * np.pi * h) - target[1]).mean()

    assert to_target(brushed[inside]) < 0.6 * to_target(hue_b[inside]), (to_target(brushed[inside]), to_target(hue_b[inside]))
    # the rest is unchanged, up to a float32 rounding that can flip the 8-bit truncation of a pixel
    np.testing.assert_allclose(brushed[outside], hue_b[outside], atol=1 / 255 + 1e-9)

    # undo takes the stroke back; redo brings it again
    n = renders(d)
    d.find_element(By.ID, "undo").click()
    settle(d, n)
    np.testing.assert_array_equal(pixels(d), hue_b)
    n = renders(d)
    d.find_element(By.ID, "redo").click()
    settle(d, n)
    np.testing.assert_array_equal(pixels(d), brushed)

    # the uncertainty overlay, then a bad upload's message on the page
    d.find_element(By.ID, "brushOn").click()
    d.find_element(By.ID, "uncOn").click()
    WebDriverWait(d, 30).until(lambda d: d.execute_script(
        "const o = document.getElementById('overlay'); return !o.hidden && o.complete && o.naturalWidth > 0"))
    shot(d, tmp_path, "4_uncertainty.png")
    d.find_element(By.ID, "uncOn").click()
    bad = tmp_path / "notes.png"
    bad.write_text("not an image at all")
    d.find_element(By.ID, "file").send_keys(str(bad))
    WebDriverWait(d, 30).until(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "not an image" in d.find_element(By.ID, "error").text
    shot(d, tmp_path, "5_bad_upload.png")
    np.testing.assert_array_equal(pixels(d), brushed)  # the photo on the page is still there


@pytest.mark.skipif(not os.environ.get("PYCOLORIZE_SERVE_SCREENSHOTS"),
                    reason="writes the README's screenshot only when PYCOLORIZE_SERVE_SCREENSHOTS names a folder")
def test_readme_screenshot(server, browser, tmp_path):
    """docs/serve/serve.png: scikit-image's coffee (held out from the demo's training) on the demo's
    model, recoloured with a warm global pull and two strokes along the saucer (run with
    PYCOLORIZE_SERVE_MODEL=demo_out PYCOLORIZE_SERVE_SCREENSHOTS=docs/serve)."""
    from skimage import data

    d = browser
    d.get(server)
    path = str(tmp_path / "coffee.png")
    Image.fromarray(data.coffee()).save(path)
    d.find_element(By.ID, "file").send_keys(path)
    settle(d, 0, timeout=300)
    left = [[0.27, 0.33], [0.18, 0.45], [0.13, 0.62], [0.15, 0.75], [0.28, 0.9], [0.5, 0.95]]
    right = [[0.5, 0.95], [0.7, 0.85], [0.78, 0.62], [0.76, 0.5], [0.7, 0.38]]
    strokes = [{"points": p, "radius": 0.045, "color": "#b02a10", "strength": 12} for p in (left, right)]
    n = renders(d)
    d.execute_script("state = Object.assign(clone(DEFAULT), arguments[0]); commit(state); syncControls(); render();",
                     {"hue": 0.06, "hue_strength": 5, "chroma": 2, "strokes": strokes})
    settle(d, n)
    d.find_element(By.ID, "brushOn").click()
    d.execute_script("document.getElementById('brushColor').value = '#b02a10';")
    shot(d, tmp_path, "serve.png")
    bottom = int(d.execute_script("return document.querySelector('footer').getBoundingClientRect().bottom")) + 8
    path = os.path.join(os.environ["PYCOLORIZE_SERVE_SCREENSHOTS"], "serve.png")
    with Image.open(path) as im:
        im = im.crop((0, 0, im.width, min(bottom, im.height)))
    im.save(path, optimize=True)
