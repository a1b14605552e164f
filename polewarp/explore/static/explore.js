// polewarp explore: sends views to the server and shows the frames it answers with.
// No projection math here: the server solves drags (engine/drag.py) and renders every frame.
"use strict";

const polewarp = window.polewarp = {state: null, framesShown: 0, lastLatencyMs: null};

const $ = (id) => document.getElementById(id);
const canvas = $("map");
const context = canvas.getContext("2d");
const HEADING_STEP = 5; // degrees a key or button turns (1 with shift)
const ZOOM_STEP = 1.25; // the extent's factor a key, button or wheel notch zooms by

let start = null; // /api/start: the first view, the input's size, the menus
let shown = {seq: 0, size: null, box: null}; // the frame on the canvas
let sent = 0; // the number of the newest request
let gesture = null; // the drag in progress

function box() {
  const stage = $("stage"), ratio = window.devicePixelRatio || 1;
  return [Math.max(16, Math.round(stage.clientWidth * ratio)), Math.max(16, Math.round(stage.clientHeight * ratio))];
}

function status(text) {
  $("status").textContent = text || "";
}

async function failure(response) {
  try {
    return (await response.json()).error;
  } catch (err) {
    return `${response.status} ${response.statusText}`;
  }
}

// Ask for the frame of a view, one request at a time: a view asked for while one is on its way
// waits in a single slot, replaced by any newer one, and goes when the answer comes. Two cores
// serve the page and the server: requests that a newer view would replace cost them both.
let inFlight = false, waiting = null;

function request(view, eventTime) {
  if (inFlight) {
    waiting = {view, eventTime};
    return;
  }
  inFlight = true;
  send(view, eventTime).finally(() => {
    inFlight = false;
    if (waiting) {
      const next = waiting;
      waiting = null;
      request(next.view, next.eventTime);
    }
  });
}

async function send(view, eventTime) {
  const seq = ++sent;
  const body = {geometry: view.geometry, box: view.box || box(), ...(view.drag ? {drag: view.drag} : {})};
  let response;
  try {
    response = await fetch("/api/frame", {method: "POST", headers: {"Content-Type": "application/json"},
                                          body: JSON.stringify(body)});
  } catch (err) {
    status(`the server is gone (${err.message})`);
    return;
  }
  if (response.status === 204) return; // replaced by a newer view, or a drag off the map
  if (!response.ok) {
    if (seq > shown.seq) status(await failure(response));
    return;
  }
  const bitmap = await createImageBitmap(await response.blob());
  if (seq < shown.seq) return; // a newer frame is already up
  const size = response.headers.get("X-Polewarp-Size").split("x").map(Number);
  canvas.width = size[0];
  canvas.height = size[1];
  context.drawImage(bitmap, 0, 0);
  shown = {seq, size, box: body.box};
  polewarp.state = JSON.parse(response.headers.get("X-Polewarp-Geometry"));
  polewarp.framesShown += 1;
  polewarp.lastLatencyMs = performance.now() - eventTime;
  $("command").textContent = JSON.parse(response.headers.get("X-Polewarp-Command"));
  status("");
  showControls();
}

function change(fields, eventTime = performance.now()) {
  request({geometry: {...polewarp.state, ...fields}}, eventTime);
}

function zoomOf(name) {
  return start.projections.find((entry) => entry.name === name).zoom;
}

function showControls() {
  const state = polewarp.state, zoom = zoomOf(state.to);
  $("projection").value = state.to;
  $("resample").value = state.resample;
  $("graticule").value = state.graticule ?? "";
  $("heading").textContent = `${+state.heading.toFixed(2)}°`;
  $("extent").textContent = zoom ? `${+(state[zoom.option] ?? zoom.default).toFixed(2)}°` : "–";
  $("zoom-in").disabled = $("zoom-out").disabled = !zoom;
}

function turn(degrees, eventTime) {
  change({heading: ((polewarp.state.heading + degrees) % 360 + 360) % 360}, eventTime);
}

function zoom(factor, eventTime) {
  const extent = zoomOf(polewarp.state.to);
  if (!extent) return;
  const now = polewarp.state[extent.option] ?? extent.default;
  const next = Math.min(extent.max, Math.max(extent.min, now * factor));
  change({[extent.option]: Math.round(next * 1e4) / 1e4}, eventTime);
}

// The pointer's position in the shown frame's pixels (0,0: its top-left corner).
function framePixel(event) {
  const rect = canvas.getBoundingClientRect();
  return [(event.clientX - rect.left) * shown.size[0] / rect.width,
          (event.clientY - rect.top) * shown.size[1] / rect.height];
}

function angle(pixel) {
  return Math.atan2(pixel[1] - shown.size[1] / 2, pixel[0] - shown.size[0] / 2) * 180 / Math.PI;
}

canvas.addEventListener("pointerdown", (event) => {
  if (!polewarp.state || !shown.size) return;
  canvas.setPointerCapture(event.pointerId);
  canvas.classList.add("dragging");
  const anchor = framePixel(event);
  gesture = {geometry: polewarp.state, box: shown.box, anchor, turning: event.shiftKey, angle: angle(anchor)};
});

canvas.addEventListener("pointermove", (event) => {
  if (!gesture) return;
  const pointer = framePixel(event), now = performance.now();
  if (gesture.turning) {
    // clockwise on screen turns the map clockwise: the heading (up's compass direction) goes down
    const heading = gesture.geometry.heading - (angle(pointer) - gesture.angle);
    request({geometry: {...gesture.geometry, heading: (heading % 360 + 360) % 360}, box: gesture.box}, now);
  } else {
    request({geometry: gesture.geometry, box: gesture.box, drag: {anchor: gesture.anchor, pointer}}, now);
  }
});

for (const name of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(name, () => {
    gesture = null;
    canvas.classList.remove("dragging");
  });
}

canvas.addEventListener("wheel", (event) => {
  event.preventDefault();
  zoom(event.deltaY > 0 ? ZOOM_STEP : 1 / ZOOM_STEP, performance.now());
}, {passive: false});

document.addEventListener("keydown", (event) => {
  if (!polewarp.state || event.target.tagName === "INPUT") return;
  const step = event.shiftKey ? 1 : HEADING_STEP;
  const keys = {ArrowLeft: () => turn(step), ArrowRight: () => turn(-step),
                "+": () => zoom(1 / ZOOM_STEP), "=": () => zoom(1 / ZOOM_STEP), "-": () => zoom(ZOOM_STEP)};
  if (keys[event.key]) {
    event.preventDefault();
    keys[event.key]();
  }
});

$("heading-left").onclick = () => turn(HEADING_STEP);
$("heading-right").onclick = () => turn(-HEADING_STEP);
$("zoom-in").onclick = () => zoom(1 / ZOOM_STEP);
$("zoom-out").onclick = () => zoom(ZOOM_STEP);
$("projection").onchange = (event) => change({to: event.target.value, lat_limit: null, lat_ts: null, radius: null});
$("graticule").onchange = (event) => change({graticule: event.target.value ? Number(event.target.value) : null});
$("resample").onchange = (event) => {
  const resample = event.target.value;
  change({resample, supersample: resample === "average" ? polewarp.state.supersample : null});
};

$("copy").onclick = async () => {
  try {
    await navigator.clipboard.writeText($("command").textContent);
    status("copied");
  } catch (err) {
    status(`copy by hand: ${err.message}`);
  }
};

function saveSize() {
  const text = $("save-size").value.trim();
  if (!text) return null;
  const sides = text.toLowerCase().split("x").map((side) => Number(side));
  return sides.every(Number.isInteger) ? sides : text;
}

$("save").onclick = async () => {
  status("saving…");
  const response = await fetch("/api/save", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify({geometry: polewarp.state, size: saveSize()})});
  if (!response.ok) {
    status(await failure(response));
    return;
  }
  const saved = await response.json();
  $("command").textContent = saved.command;
  status(`wrote ${saved.name} (${saved.size.join("x")})`);
};

let resizing = false;
window.addEventListener("resize", () => {
  if (resizing || !polewarp.state) return;
  resizing = true;
  requestAnimationFrame(() => {
    resizing = false;
    change({});
  });
});

async function begin() {
  start = await (await fetch("/api/start")).json();
  for (const entry of start.projections) $("projection").add(new Option(entry.name, entry.name));
  for (const name of start.resample) $("resample").add(new Option(name, name));
  $("graticule").add(new Option("off", ""));
  for (const step of start.graticule) $("graticule").add(new Option(`${step}°`, String(step)));
  $("save-size").placeholder = `${start.input_size[0]} (W or WxH)`;
  polewarp.state = start.geometry;
  change({});
}

begin();
