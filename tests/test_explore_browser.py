"""polewarp explore's page in a real headless Chromium (Playwright, the system's browser):
frames arrive, a drag moves the centre the way it says, the projection menu switches, Save writes.

Skipped when Playwright or Chromium is missing, unless POLEWARP_REQUIRE_BROWSER=1 (CI) makes
that a failure. No sleeps: every wait is on the page's test hook, window.polewarp.
"""

import os
import shutil
import threading

import pytest

from polewarp.engine.geometry import Geometry
from polewarp.explore.explorer import Explorer, Settings
from polewarp.explore.server import ExploreServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = ("chromium", "chromium-browser", "/usr/bin/chromium")
VIEWPORT = {"width": 420, "height": 300}  # small previews: the suite's budget


def find_chromium() -> str | None:
    return next((path for path in map(shutil.which, CHROMIUM) if path), None)


def launch_browser():
    """Playwright and a Chromium, or a skip saying which is missing (a failure if required)."""
    required = os.environ.get("POLEWARP_REQUIRE_BROWSER") == "1"
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "Playwright for Python is not installed (pip install '.[test]')"
    executable = find_chromium()
    if missing is None and executable is None:
        missing = "no Chromium found (apt-get install chromium)"
    if missing:
        if required:
            pytest.fail(f"POLEWARP_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    playwright = sync_playwright().start()
    sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium's sandbox refuses root
    return playwright, playwright.chromium.launch(executable_path=executable, args=sandbox)


@pytest.fixture(scope="module")
def browser():
    playwright, browser = launch_browser()
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def page(browser, map_file, tmp_path):
    """The page of an explorer of a 64x32 map (north up, so a drag's direction is plain)."""
    save_dir = tmp_path / "saved"
    save_dir.mkdir()
    explorer = Explorer(Settings(input_path=map_file[0], start=Geometry.of(to="equirectangular", heading=0),
                                 save_dir=save_dir))
    server = ExploreServer(("127.0.0.1", 0), explorer)
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    loop.start()
    context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)  # Playwright evaluates strings
    page = context.new_page()
    # the signals waited for come after numba compiles a kernel, on a first run: minutes on a loaded CI
    page.set_default_timeout(180_000)
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(server.url)
    page.wait_for_function("window.polewarp.framesShown >= 1")
    page.save_dir = save_dir
    yield page
    context.close()
    server.shutdown()
    loop.join()
    server.stop()
    assert errors == []


def hook(page):
    return page.evaluate("() => ({...window.polewarp})")


def test_the_first_frame_shows_the_start_view(page):
    shown = hook(page)
    assert shown["state"] == Geometry.of(to="equirectangular", heading=0).to_dict()
    assert shown["lastLatencyMs"] > 0
    assert page.locator("#command").text_content() == "polewarp convert --to=equirectangular --heading=0"
    assert page.locator("#zoom-in").is_enabled()


def test_a_drag_moves_the_centre_with_the_pointer(page):
    box = page.locator("#map").bounding_box()
    frame_width = page.evaluate("document.getElementById('map').width")
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    frames = hook(page)["framesShown"]
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + box["width"] / 8, y, steps=5)
    page.mouse.up()
    # the last move's frame: the anchor, a quarter turn of longitude... an eighth of the width: 45 degrees
    page.wait_for_function(f"window.polewarp.framesShown > {frames} && window.polewarp.state.center[1] < -44")
    lat, lon = hook(page)["state"]["center"]
    pixel = 360.0 / frame_width  # degrees a frame pixel spans: the drag is exact within 2 px
    assert abs(lon + 45.0) <= 2 * pixel and abs(lat) <= 2 * pixel


def test_the_projection_menu_switches_and_zoom_follows(page):
    page.select_option("#projection", "mollweide")
    page.wait_for_function("window.polewarp.state.to === 'mollweide'")
    assert page.locator("#zoom-in").is_disabled()
    assert "--to=mollweide" in page.locator("#command").text_content()
    page.select_option("#projection", "orthographic")
    page.wait_for_function("window.polewarp.state.to === 'orthographic'")
    page.locator("#zoom-in").click()
    page.wait_for_function("window.polewarp.state.radius === 72")
    assert "--radius=72" in page.locator("#command").text_content()


def test_the_graticule_menu_draws_and_the_command_says_so(page):
    shown = page.evaluate("window.polewarp.framesShown")
    page.select_option("#graticule", "30")
    page.wait_for_function(f"window.polewarp.state.graticule === 30 && window.polewarp.framesShown > {shown}")
    assert "--graticule=30" in page.locator("#command").text_content()
    page.select_option("#graticule", "")
    page.wait_for_function("window.polewarp.state.graticule === undefined")
    assert "--graticule" not in page.locator("#command").text_content()


def test_keys_turn_the_heading(page):
    page.locator("#map").focus()
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("window.polewarp.state.heading === 5")


def test_save_writes_the_file_and_shows_its_name(page):
    page.locator("#save").click()
    page.wait_for_function("document.getElementById('status').textContent.startsWith('wrote')")
    name = "polewarp-equirectangular-001.png"
    assert page.locator("#status").text_content() == f"wrote {name} (64x32)"
    assert (page.save_dir / name).is_file()
    assert page.locator("#command").text_content().endswith(f"--size=64 -o {name}")
    page.fill("#save-size", "wide")
    page.locator("#save").click()
    page.wait_for_function("document.getElementById('status').textContent.startsWith('size must')")


def test_a_shift_drag_turns_the_map_with_the_pointer(page):
    box = page.locator("#map").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    side = min(box["width"], box["height"]) / 3
    page.keyboard.down("Shift")
    page.mouse.move(x + side, y)
    page.mouse.down()
    page.mouse.move(x, y + side, steps=4)  # a quarter turn clockwise on screen
    page.mouse.up()
    page.keyboard.up("Shift")
    # the map turns clockwise too: north goes right, west comes up (heading 270)
    page.wait_for_function("Math.abs(window.polewarp.state.heading - 270) < 1e-6")
