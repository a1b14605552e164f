"""polewarp explore's server over a real socket: routes, validation, Host/Origin, newest view wins,
Save against `polewarp convert`, and a clean stop (threads, connections, the process's exit)."""

import dataclasses
import http.client
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from polewarp.engine import drag
from polewarp.engine.geometry import Geometry
from polewarp.explore import views
from polewarp.explore.explorer import Explorer, Settings
from polewarp.explore.server import ExploreServer

from .conftest import run_env

START = Geometry.of(heading=0)


def wait_until(condition, timeout=30.0):
    """Poll ``condition`` until it holds (bounded): what the threads do is not ours to time."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


class Client:
    """Requests to one server, with the Host a browser of its page would send."""

    def __init__(self, server):
        self.port = server.server_address[1]

    def __call__(self, method, path, body=None, headers=None, raw=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = {"Host": f"127.0.0.1:{self.port}", **({"Content-Type": "application/json"} if method == "POST" else {}),
                **(headers or {})}
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in sent.items():
            connection.putheader(name, value)
        if data is not None:
            connection.putheader("Content-Length", str(len(data)))
        connection.endheaders(data)
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        return response, payload


@pytest.fixture
def served(map_file, tmp_path, isolated_cache):
    """A running explorer of a 64x32 map (its server in a thread), its client and save folder."""
    from polewarp.engine.cache import LutCache

    save_dir = tmp_path / "saved"
    save_dir.mkdir()
    before = set(threading.enumerate())
    explorer = Explorer(Settings(input_path=map_file[0], start=START, shown_input=map_file[0], save_dir=save_dir,
                                 cache=LutCache(isolated_cache)))
    server = ExploreServer(("127.0.0.1", 0), explorer)
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    loop.start()
    yield server, Client(server), save_dir
    server.shutdown()
    loop.join()
    server.stop()
    assert set(threading.enumerate()) == before  # the render thread and every request's thread ended


def frame_body(geometry=None, box=(64, 32), **more):
    return {"geometry": geometry or {}, "box": list(box), **more}


def test_routes(served):
    _, client, _ = served
    response, page = client("GET", "/")
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/html")
    assert b"/explore.js" in page and b"http" not in page.replace(b"http-equiv", b"")  # no CDN: works offline
    for path, kind in (("/explore.js", "text/javascript"), ("/explore.css", "text/css")):
        response, _ = client("GET", path)
        assert response.status == 200 and response.getheader("Content-Type").startswith(kind)
    response, start = client("GET", "/api/start")
    start = json.loads(start)
    assert start["geometry"] == START.to_dict() and start["input_size"] == [64, 32] and start["save_size"] == [64]
    assert [entry["name"] for entry in start["projections"]][:2] == ["mercator", "equirectangular"]
    assert next(e for e in start["projections"] if e["name"] == "mollweide")["zoom"] is None
    for path in ("/index.html", "/static/explore.js", "/../pyproject.toml", "/api", "/favicon.ico"):
        assert client("GET", path)[0].status == 404, path
    assert client("POST", "/", {})[0].status == 405
    assert client("GET", "/api/frame")[0].status == 405
    assert client("PUT", "/api/save", {})[0].status == 501


@pytest.mark.parametrize("headers", [{"Host": "evil.example:80"}, {"Host": "127.0.0.1:1"}, {"Origin": "http://evil.example"},
                                     {"Origin": "null"}])
def test_a_foreign_host_or_origin_is_refused(served, headers):
    _, client, save_dir = served
    for method, path, body in (("GET", "/", None), ("POST", "/api/frame", frame_body()), ("POST", "/api/save", {})):
        response, payload = client(method, path, body, headers)
        assert response.status == 403 and "refused" in json.loads(payload)["error"]
    assert not any(save_dir.iterdir())


def test_its_own_origin_is_served(served):
    server, client, _ = served
    for origin in (f"http://127.0.0.1:{client.port}", f"http://localhost:{client.port}"):
        assert client("POST", "/api/frame", frame_body(), {"Origin": origin})[0].status == 200
    assert client("GET", "/", headers={"Host": f"localhost:{client.port}"})[0].status == 200


@pytest.mark.parametrize("body, message", [
    ({"geometry": {"heading": "north"}}, "heading: 'north' is not a valid value"),
    ({"geometry": {"heading": float("nan")}}, "not JSON: NaN"),
    ({"geometry": {"radius": 30}}, "radius does not apply to mercator"),
    ({"geometry": {"to": "mercatr"}}, "unknown projection 'mercatr' (did you mean mercator?)"),
    ({"geometry": {"center": [91, 0]}}, "center latitude must be within -90..90 degrees"),
    ({"geometry": {"lat_limit": 95}}, "lat limit must be above 0 and below 90 degrees"),
    ({"geometry": {"output": "/etc/x.png"}}, "unknown geometry field 'output'"),
    ({"geometry": {"supersample": 3}}, "supersample applies only to average resampling"),
    ({"geometry": {}, "box": [8, 8]}, "box [8, 8]: each must be within 16..1e+09"),
    ({"geometry": {}, "box": [64, 32], "drag": {"anchor": [1, 1]}}, "pointer must be two finite numbers"),
    ({"geometry": {}, "box": [64, 32], "format": "png"}, "format must be one of jpeg, webp"),
    ({"geometry": {}, "box": [64, 32], "path": "x"}, "request: unknown field 'path'"),
    ([], "request must be a JSON object"),
])
def test_a_bad_value_is_a_400_with_its_message_and_the_server_runs_on(served, body, message):
    _, client, _ = served
    raw = json.dumps(body, allow_nan=True).encode()
    response, payload = client("POST", "/api/frame", raw=raw)
    assert response.status == 400 and message in json.loads(payload)["error"]
    assert client("POST", "/api/frame", frame_body())[0].status == 200


def test_bad_bodies(served):
    _, client, _ = served
    assert client("POST", "/api/frame", raw=b"{", headers={})[0].status == 400
    assert client("POST", "/api/frame", raw=b"{}", headers={"Content-Type": "text/plain"})[0].status == 415
    assert client("POST", "/api/frame", raw=b" " * (64 * 1024 + 1))[0].status == 413


def test_a_frame_is_the_view_at_its_natural_size_within_the_box_and_capped(served):
    _, client, _ = served
    response, payload = client("POST", "/api/frame", frame_body({"to": "mollweide"}, (300, 100)))
    assert response.status == 200 and response.getheader("Content-Type") == "image/jpeg"
    assert Image.open(io.BytesIO(payload)).size == (200, 100) and response.getheader("X-Polewarp-Size") == "200x100"
    geometry = json.loads(response.getheader("X-Polewarp-Geometry"))
    assert geometry == Geometry.of(to="mollweide", heading=0).to_dict()
    command = json.loads(response.getheader("X-Polewarp-Command"))
    assert shlex.split(command)[3:] == ["--to=mollweide", "--heading=0"]
    assert views.preview_size(Geometry.of(to="orthographic"), [10**6, 10**6]) == (2048, 2048)
    response, payload = client("POST", "/api/frame", frame_body({}, (64, 32), format="webp"))
    assert response.getheader("Content-Type") == "image/webp" and Image.open(io.BytesIO(payload)).format == "WEBP"


def test_a_drag_keeps_the_grabbed_point_under_the_pointer(served):
    _, client, _ = served
    body = frame_body({}, (64, 64), drag={"anchor": [20.5, 30.0], "pointer": [41.0, 22.5]})
    response, _ = client("POST", "/api/frame", body)
    solved = Geometry.from_dict(json.loads(response.getheader("X-Polewarp-Geometry")))
    size = tuple(int(side) for side in response.getheader("X-Polewarp-Size").split("x"))
    before = START.spec((64, 32), size)
    grabbed = drag.geographic(before, (20.5, 30.0))
    assert np.allclose(drag.pixel_of(solved.spec((64, 32), size), grabbed), (41.0, 22.5), atol=1e-6)
    off = frame_body({"to": "mollweide"}, (64, 32), drag={"anchor": [0.5, 0.5], "pointer": [30.0, 16.0]})
    assert client("POST", "/api/frame", off)[0].status == 204  # grabbed outside the outline: no change


def test_the_newest_view_wins_under_a_burst(served):
    server, client, _ = served
    previewer = server.explorer._previewer
    rendering, gate, rendered = threading.Event(), threading.Event(), []
    frame = previewer.frame

    def held(spec, fmt):
        rendered.append(spec.heading)
        rendering.set()
        gate.wait()
        return frame(spec, fmt)

    previewer.frame = held
    answers = {}

    def ask(heading):
        answers[heading] = client("POST", "/api/frame", frame_body({"heading": heading}))[0].status

    threads = [threading.Thread(target=ask, args=(1,))]
    threads[0].start()
    rendering.wait(30)
    for heading in range(2, 12):  # each replaces the one before it in the slot
        threads.append(threading.Thread(target=ask, args=(heading,)))
        threads[-1].start()
        wait_until(lambda h=heading: (slot := server.explorer._mailbox._slot) is not None
                   and slot.job[0].heading == h)
    gate.set()
    for thread in threads:
        thread.join()
    assert rendered == [1, 11]
    assert answers == {1: 200, 11: 200, **{heading: 204 for heading in range(2, 11)}}


def run_convert(command: str, cwd):
    """The shown command, run as a real `python -m polewarp` in ``cwd``."""
    words = shlex.split(command)
    assert words[:2] == ["polewarp", "convert"]
    subprocess.run([sys.executable, "-m", "polewarp", *words[1:]], cwd=cwd, env=run_env(), check=True,
                   capture_output=True)


@pytest.mark.slow
def test_save_writes_what_the_shown_command_writes(served, tmp_path):
    _, client, save_dir = served
    view = {"to": "mollweide", "center": [12.5, -40.25], "heading": 30, "graticule": 30}
    response, payload = client("POST", "/api/save", {"geometry": view, "size": [96]})
    saved = json.loads(payload)
    assert response.status == 200 and re.fullmatch(r"polewarp-mollweide-001\.png", saved["name"])
    assert saved["size"] == [96, 48] and os.listdir(save_dir) == [saved["name"]]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run_convert(saved["command"], elsewhere)
    assert (elsewhere / saved["name"]).read_bytes() == (save_dir / saved["name"]).read_bytes()
    again = json.loads(client("POST", "/api/save", {"geometry": {}})[1])
    assert again["name"] == "polewarp-mercator-001.png" and again["size"] == [64, 62]  # width 64, natural height
    assert json.loads(client("POST", "/api/save", {"geometry": view, "size": [96]})[1])["name"].endswith("-002.png")
    for size, message in (([0], "each side must be from 1"), ("../x", "size must be [WIDTH]"),
                          ([10**6], "each side must be from 1 to 16384")):
        response, payload = client("POST", "/api/save", {"geometry": view, "size": size})
        assert response.status == 400 and message in json.loads(payload)["error"]
    assert len(os.listdir(save_dir)) == 3


def test_stop_ends_waiting_requests_and_open_connections(served):
    server, client, _ = served
    import socket

    idle = socket.create_connection(("127.0.0.1", client.port))  # a connection that never sends a request
    try:
        assert client("GET", "/api/start")[0].status == 200
        # the fixture's teardown stops the server: it must not wait for this connection's timeout
    finally:
        server.shutdown()
        server.stop()
        idle.close()


@pytest.mark.slow
def test_the_command_serves_until_ctrl_c(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "polewarp", "explore", "--no-browser", "--to", "mollweide",
                                "--save-dir", str(tmp_path)], env=run_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert url, line
        connection = http.client.HTTPConnection("127.0.0.1", int(url.group(1)), timeout=60)
        connection.request("POST", "/api/frame", json.dumps(frame_body({}, (128, 64))),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("X-Polewarp-Size") == "128x64"
        connection.close()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    assert err.strip() == "polewarp: interrupted by SIGINT; cleaned up"


def test_bad_options_are_usage_errors(runner, tmp_path):
    from polewarp.cli.main import cli

    result = runner.invoke(cli, ["explore", "--no-browser", "--radius", "30"])
    assert result.exit_code == 2 and "radius does not apply to mercator" in result.output
    result = runner.invoke(cli, ["explore", "--no-browser", "--save-dir", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "--save-dir" in result.output


def test_the_page_ships_as_package_data():
    """A non-editable install (`pip install .`) ships only what package-data names: every file
    of the page must match it (checked by hand with a wheel: they are all in it)."""
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    static = root / "polewarp" / "explore" / "static"
    names = sorted(path.relative_to(static.parent).as_posix() for path in static.iterdir())
    assert names == ["static/explore.css", "static/explore.js", "static/index.html"]
    assert all(any(fnmatch.fnmatch(name, p) for p in patterns["polewarp.explore"]) for name in names)


def test_an_input_carrying_its_geometry_starts_read_by_it(tmp_path, runner):
    from polewarp.engine.imageio import read_image, write_image

    from .conftest import make_map

    globe = tmp_path / "globe.png"
    Image.fromarray(make_map(64, 32)).save(tmp_path / "world.png")
    picture = read_image(tmp_path / "world.png")
    made = Geometry.of(to="orthographic", center=(40.0, -30.0), heading=0.0)
    write_image(globe, dataclasses.replace(picture, geometry=made))
    explorer = Explorer(Settings(input_path=globe, start=Geometry.of(to="equirectangular", heading=0.0),
                                 input_options={}, graticule_color="red"))
    start = explorer.start_info()["geometry"]
    assert (start["from"], start["from_center"], start["from_heading"]) == ("orthographic", [40.0, -30.0], 0.0)
    command = views.command_line(dataclasses.replace(explorer.start, graticule=30.0), None, graticule_color="red")
    assert "--from=orthographic" in command and "--graticule=30" in command and "--graticule-color=red" in command
    explorer.close()



def test_a_request_submitted_after_a_later_one_is_stale():
    from polewarp.explore.mailbox import LatestOnly

    mailbox = LatestOnly(lambda job: job)
    first, second = mailbox.arrival(), mailbox.arrival()
    assert mailbox.submit("second", second) == "second"
    assert mailbox.submit("first", first) is None  # its drag was solved last, but it is older
    mailbox.close()
