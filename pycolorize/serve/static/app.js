// The page of `pycolorize serve`: upload a photo, then send the whole edit state with every edit
// (the server decodes the network's cached histograms with it). Undo and redo walk the page's own
// history of states. No framework, no build step.
"use strict";
const $ = (id) => document.getElementById(id);
const DEFAULT = { hue: 0, hue_strength: 0, chroma: 0, param: "median:expectation-cf", sample: 0,
                  reference: false, strokes: [] };
let session = null, photo = null;        // the server's session id, {width, height, preview}
let state = clone(DEFAULT);
let history = [], at = -1;               // committed states; `at` is the current one
let rendering = false, wanted = false;   // one render in flight, at most one more wanted
let resultURL = null, autoURL = null, renders = 0, sampleSeed = 0;

function clone(s) { return JSON.parse(JSON.stringify(s)); }

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function busy(text) {
  $("busy").hidden = !text;
  if (!text) { clearInterval(busy.timer); return; }
  const start = performance.now();
  const tick = () => { $("busyText").textContent = `${text}… ${((performance.now() - start) / 1000).toFixed(0)} s`; };
  clearInterval(busy.timer);
  tick();
  busy.timer = setInterval(tick, 500);
}

async function failure(response) {
  try { return (await response.json()).error || response.statusText; }
  catch (e) { return `${response.status} ${response.statusText}`; }
}

async function api(path, body, type) {
  const url = session ? `${path}?session=${encodeURIComponent(session)}` : path;
  const init = body === undefined ? {} : { method: "POST", body,
    headers: type ? { "Content-Type": type } : {} };
  const response = await fetch(url, init);
  if (!response.ok) throw new Error(await failure(response));
  return response;
}

// ---- upload -------------------------------------------------------------------------------------
async function upload(file) {
  if (!file) return;
  showError("");
  busy(`Running the network on ${file.name}`);
  try {
    const response = await fetch("/api/upload", { method: "POST", body: file });
    if (!response.ok) throw new Error(await failure(response));
    const info = await response.json();
    session = info.session;
    photo = info;
    document.body.classList.add("loaded");
    $("gray").src = URL.createObjectURL(await (await api("/api/gray")).blob());
    $("overlay").removeAttribute("src");
    $("overlay").hidden = true;
    $("uncOn").checked = false;
    $("useRef").disabled = true;
    $("useRef").checked = false;
    $("refFile").value = "";
    if (autoURL) URL.revokeObjectURL(autoURL);
    autoURL = null;
    history = [];
    at = -1;
    sampleSeed = 0;
    commit(clone(DEFAULT));
    syncControls();
    await render();
    document.body.dataset.session = "ready";
  } catch (e) {
    showError(`Could not colorize ${file.name}: ${e.message}`);
  } finally {
    busy("");
    $("file").value = "";
  }
}

// ---- rendering ----------------------------------------------------------------------------------
async function render() {
  if (!session) return;
  if (rendering) { wanted = true; return; }
  rendering = true;
  try {
    do {
      wanted = false;
      const sent = JSON.stringify(state);
      const response = await api("/api/render", sent, "application/json");
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      if (!autoURL) autoURL = URL.createObjectURL(blob);  // the automatic colorization, for compare
      await new Promise((ok) => { $("result").onload = ok; $("result").onerror = ok; $("result").src = url; });
      if (resultURL) URL.revokeObjectURL(resultURL);
      resultURL = url;
      $("timing").textContent = `(${response.headers.get("X-Render-Ms")} ms on the server)`;
      renders += 1;
      document.body.dataset.renders = renders;
      document.body.dataset.rendered = sent;
      sizeBrush();
    } while (wanted);
    showError("");
  } catch (e) {
    showError(e.message);
  } finally {
    rendering = false;
  }
}

// ---- state, history, controls -------------------------------------------------------------------
function commit(next) {
  history = history.slice(0, at + 1);
  history.push(clone(next));
  at = history.length - 1;
  state = clone(next);
  $("undo").disabled = at <= 0;
  $("redo").disabled = true;
}

function go(step) {
  if (at + step < 0 || at + step >= history.length) return;
  at += step;
  state = clone(history[at]);
  $("undo").disabled = at <= 0;
  $("redo").disabled = at >= history.length - 1;
  syncControls();
  render();
}

function syncControls() {
  $("hue").value = Math.round(state.hue * 360);
  $("hueStrength").value = state.hue_strength;
  $("chroma").value = state.chroma;
  $("param").value = state.param;
  $("useRef").checked = state.reference;
  showValues();
}

function showValues() {
  $("hueOut").textContent = `${$("hue").value}°`;
  $("hueStrengthOut").textContent = $("hueStrength").value;
  $("chromaOut").textContent = $("chroma").value;
  $("brushSizeOut").textContent = `${$("brushSize").value} %`;
  $("brushStrengthOut").textContent = $("brushStrength").value;
  $("sampleOut").textContent = state.sample ? `sample ${state.sample}` : "";
}

function fromControls() {
  state.hue = Number($("hue").value) / 360;
  state.hue_strength = Number($("hueStrength").value);
  state.chroma = Number($("chroma").value);
  state.param = $("param").value;
  state.reference = $("useRef").checked;
  showValues();
}

for (const id of ["hue", "hueStrength", "chroma"]) {
  $(id).addEventListener("input", () => { fromControls(); render(); });  // live while dragging
  $(id).addEventListener("change", () => { fromControls(); commit(state); render(); });
}
for (const id of ["param", "useRef"]) {
  $(id).addEventListener("change", () => { fromControls(); commit(state); render(); });
}
for (const id of ["brushSize", "brushStrength"]) $(id).addEventListener("input", showValues);

$("sample").addEventListener("click", () => {
  sampleSeed += 1;
  state.sample = sampleSeed;
  commit(state);
  showValues();
  render();
});
$("noSample").addEventListener("click", () => { state.sample = 0; commit(state); showValues(); render(); });
$("undo").addEventListener("click", () => go(-1));
$("redo").addEventListener("click", () => go(1));
$("reset").addEventListener("click", () => { commit(clone(DEFAULT)); syncControls(); render(); });
document.addEventListener("keydown", (e) => {
  if (!(e.ctrlKey || e.metaKey) || e.target.tagName === "INPUT" && e.target.type !== "range") return;
  if (e.key === "z" && !e.shiftKey) { e.preventDefault(); go(-1); }
  if (e.key === "y" || (e.key === "z" && e.shiftKey)) { e.preventDefault(); go(1); }
});

// compare: hold to see the automatic colorization
const before = () => { if (autoURL) $("result").src = autoURL; };
const after = () => { if (resultURL) $("result").src = resultURL; };
$("compare").addEventListener("pointerdown", before);
for (const ev of ["pointerup", "pointerleave"]) $("compare").addEventListener(ev, after);

$("refFile").addEventListener("change", async () => {
  const file = $("refFile").files[0];
  if (!file || !session) return;
  busy(`Fitting the colours of ${file.name}`);
  try {
    await api("/api/reference", file);
    $("useRef").disabled = false;
    $("useRef").checked = true;
    fromControls();
    commit(state);
    await render();
  } catch (e) {
    showError(`Could not use ${file.name} as a reference: ${e.message}`);
  } finally {
    busy("");
  }
});

$("uncOn").addEventListener("change", async () => {
  const overlay = $("overlay");
  if ($("uncOn").checked && session && !overlay.getAttribute("src")) {
    try { overlay.src = URL.createObjectURL(await (await api("/api/uncertainty")).blob()); }
    catch (e) { showError(e.message); }
  }
  overlay.hidden = !$("uncOn").checked;
});

$("download").addEventListener("click", async () => {
  if (!session) return;
  busy(`Colorizing ${photo.width} × ${photo.height} pixels`);
  try {
    const blob = await (await api("/api/download", JSON.stringify(state), "application/json")).blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "colorized.png";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (e) {
    showError(e.message);
  } finally {
    busy("");
  }
});

// ---- brush --------------------------------------------------------------------------------------
let stroke = null;

function sizeBrush() {
  const c = $("brush"), img = $("result");
  if (c.width !== img.clientWidth || c.height !== img.clientHeight) {
    c.width = img.clientWidth;
    c.height = img.clientHeight;
  }
}
window.addEventListener("resize", sizeBrush);

$("brushOn").addEventListener("change", () => document.body.classList.toggle("painting", $("brushOn").checked));

function where(e) {
  const r = $("brush").getBoundingClientRect();
  return [(e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height];
}

function drawStroke() {
  const c = $("brush"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  if (!stroke) return;
  const side = Math.max(c.width, c.height);
  g.strokeStyle = stroke.color;
  g.fillStyle = stroke.color;
  g.globalAlpha = 0.45;
  g.lineCap = g.lineJoin = "round";
  g.lineWidth = 2 * stroke.radius * side;
  g.beginPath();
  stroke.points.forEach(([x, y], i) => (i ? g.lineTo : g.moveTo).call(g, x * c.width, y * c.height));
  if (stroke.points.length === 1) g.lineTo(stroke.points[0][0] * c.width + 0.1, stroke.points[0][1] * c.height);
  g.stroke();
}

$("brush").addEventListener("pointerdown", (e) => {
  if (!session || !$("brushOn").checked) return;
  $("brush").setPointerCapture(e.pointerId);
  sizeBrush();
  stroke = { points: [where(e)], radius: Number($("brushSize").value) / 100, color: $("brushColor").value,
             strength: Number($("brushStrength").value) };
  drawStroke();
});
$("brush").addEventListener("pointermove", (e) => {
  if (!stroke) return;
  const p = where(e), q = stroke.points[stroke.points.length - 1];
  const c = $("brush");
  if (Math.hypot((p[0] - q[0]) * c.width, (p[1] - q[1]) * c.height) >= 2 && stroke.points.length < 4000) {
    stroke.points.push(p);
    drawStroke();
  }
});
function endStroke() {
  if (!stroke) return;
  state.strokes = state.strokes.concat([{ ...stroke, points: stroke.points.map(([x, y]) => [+x.toFixed(5), +y.toFixed(5)]) }]);
  stroke = null;
  commit(state);
  render().then(drawStroke);
}
$("brush").addEventListener("pointerup", endStroke);
$("brush").addEventListener("pointercancel", endStroke);

// ---- choosing and dropping a photo -------------------------------------------------------------
$("file").addEventListener("change", () => upload($("file").files[0]));
document.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dragging"); });
document.addEventListener("dragleave", (e) => { if (!e.relatedTarget) document.body.classList.remove("dragging"); });
document.addEventListener("drop", (e) => {
  e.preventDefault();
  document.body.classList.remove("dragging");
  if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
});
showValues();
$("undo").disabled = $("redo").disabled = true;
