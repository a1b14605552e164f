"""polewarp explore under a drag, in real headless Chromium: frames per second, latency, first frame.

Run: ``python perf/bench_explore.py [--seconds 5] [--pixels 524288] [--projections ...]``. For each
projection a real `polewarp explore --no-browser` starts; the page's stage is set to the box whose
preview has ~1024x512 pixels at the projection's own proportions; the mouse drags in a circle, a
move every 16 ms for 5 s. fps = (change in window.polewarp.framesShown) / seconds; latency is
window.polewarp.lastLatencyMs (input event to its frame shown), sampled at every new frame. First
frame: from starting the process to the page showing its first frame (numba's cache warm).
The issue's targets: mercator, mollweide, orthographic >= 25 fps and p95 <= 80 ms; winkel-tripel
>= 10 fps.
"""

import argparse
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_explore_browser import launch_browser  # noqa: E402

from polewarp.engine.profiler import machine  # noqa: E402
from polewarp.engine.projections import projection  # noqa: E402

TARGETS = {"mercator": (25, 80), "mollweide": (25, 80), "orthographic": (25, 80), "winkel-tripel": (10, None)}
MOVE_MS = 16
# A move every 16 ms in the page's own timer (a Python loop driving Playwright could not keep that
# pace on a loaded machine); the latency of every new frame as the page measured it.
DRAG = """async ({cx, cy, radius, ms, every}) => {
  const canvas = document.getElementById("map"), hook = window.polewarp;
  const frames0 = hook.framesShown, latencies = [], begin = performance.now();
  let moves = 0, seen = frames0;
  await new Promise((done) => {
    const timer = setInterval(() => {
      if (hook.framesShown !== seen) { latencies.push(hook.lastLatencyMs); seen = hook.framesShown; }
      const now = performance.now() - begin;
      if (now >= ms) { clearInterval(timer); done(); return; }
      const turn = 2 * Math.PI * now / ms;
      canvas.dispatchEvent(new PointerEvent("pointermove", {clientX: cx + radius * Math.cos(turn),
        clientY: cy + radius * Math.sin(turn), pointerId: 1, bubbles: true}));
      moves += 1;
    }, every);
  });
  return {moves, frames: hook.framesShown - frames0, latencies, elapsed: performance.now() - begin};
}"""


def box_for(name: str, pixels: int) -> tuple[int, int]:
    """The stage size whose preview has ``pixels`` pixels at the projection's proportions."""
    x, y = projection(name).bounds({})
    return round(math.sqrt(pixels * x / y)), round(math.sqrt(pixels * y / x))


def start_server(name: str) -> tuple[subprocess.Popen, str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "polewarp", "explore", "--no-browser", "--to", name,
                                "--heading", "0"], env=env, stdout=subprocess.PIPE, text=True)
    url = re.search(r"http://\S+/", process.stdout.readline()).group(0)
    return process, url, started


def run(browser, name: str, seconds: float, pixels: int) -> dict:
    width, height = box_for(name, pixels)
    page = browser.new_page(viewport={"width": width + 40, "height": height + 200}, bypass_csp=True)
    process, url, started = start_server(name)
    try:
        page.goto(url)
        page.wait_for_function("window.polewarp.framesShown >= 1")
        first = time.perf_counter() - started
        page.add_style_tag(content=f"#stage {{ flex: none; width: {width}px; height: {height}px; }}")
        page.evaluate("window.dispatchEvent(new Event('resize'))")
        page.wait_for_function(f"document.getElementById('map').width * document.getElementById('map').height"
                               f" > {0.9 * pixels}")
        size = page.evaluate("[document.getElementById('map').width, document.getElementById('map').height]")
        canvas = page.locator("#map").bounding_box()
        cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
        radius = min(canvas["width"], canvas["height"]) / 6
        page.mouse.move(cx + radius, cy)
        page.mouse.down()  # a real press (the canvas captures the pointer); the moves are timed in the page
        drag = page.evaluate(DRAG, {"cx": cx, "cy": cy, "radius": radius, "ms": seconds * 1000,
                                    "every": MOVE_MS})
        page.mouse.up()
        latencies = drag["latencies"]
    finally:
        page.close()
        process.terminate()
        process.wait()
    return {"name": name, "size": size, "moves": drag["moves"], "fps": drag["frames"] / (drag["elapsed"] / 1000),
            "p50": float(np.percentile(latencies, 50)), "p95": float(np.percentile(latencies, 95)),
            "first": first}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--pixels", type=int, default=1024 * 512)
    parser.add_argument("--projections", nargs="*", default=list(TARGETS))
    args = parser.parse_args()
    info = machine()
    print(f"# {info['cpu']}, {info['logical_cores']} cores, {' '.join(info['simd'])}; load {os.getloadavg()[0]:.1f}")
    playwright, browser = launch_browser()
    try:
        print("| projection | preview | moves | fps | p50 ms | p95 ms | first frame s | target |")
        print("|---|---|---|---|---|---|---|---|")
        for name in args.projections:
            r = run(browser, name, args.seconds, args.pixels)
            fps, p95 = TARGETS.get(name, (None, None))
            goal = (f">= {fps} fps" if fps else "") + (f", p95 <= {p95} ms" if p95 else "")
            met = (fps is None or r["fps"] >= fps) and (p95 is None or r["p95"] <= p95)
            print(f"| {name} | {r['size'][0]}x{r['size'][1]} | {r['moves']} | {r['fps']:.1f} | {r['p50']:.0f} "
                  f"| {r['p95']:.0f} | {r['first']:.2f} | {goal} {'met' if met else 'MISSED'} |", flush=True)
    finally:
        browser.close()
        playwright.stop()


if __name__ == "__main__":
    main()
