// The tracker's live page: polls /api/status, follows /api/events, and draws
// the status into the tables, the progress grid and the throughput chart.
// Every value shown comes from the status JSON (docs/guide/watching.md, "The
// JSON"); names from the network only ever go in as text.
"use strict";

const POLL_INTERVAL_MS = 1000;  // the tracker refreshes its status every 0.5 s while read
const POLL_TIMEOUT_MS = 4000;  // a tracker that takes longer counts as gone
const EVENTS_RETRY_MS = 2000;  // a closed event stream is opened again after this
const CHART_WINDOW_S = 300;  // the chart shows the last five minutes at most ...
const CHART_MIN_WINDOW_S = 60;  // ... and at least one, so a page just opened shows a line
const CHART_TICKS_S = [10, 15, 30, 60];  // seconds between the time axis's labels
const CHART_GAP_S = 5;  // samples further apart than this are not joined by a line
const MAX_EVENTS_SHOWN = 200;  // older events drop off the list
const DIGEST_SHOWN = 12;  // hex digits, as in `swarm ls`
const PERCENT_TEXT_MAX_PEERS = 16;  // wider grids show colour only, the percent in the tooltip

const token = new URLSearchParams(location.search).get("token");
// #events=off: no event stream.  An open stream keeps a headless browser's
// virtual clock from running out, so a DOM dump would never be taken.  In
// the fragment, which never reaches the server (it refuses query parameters
// it does not know).
const eventsWanted = new URLSearchParams(location.hash.slice(1)).get("events") !== "off";

function apiUrl(path) {
  return token === null ? path : `${path}?token=${encodeURIComponent(token)}`;
}

// --- units, as swarm/units.py and swarm/tools/report.py print them ----------

const IEC_UNITS = ["B", "KiB", "MiB", "GiB"];

function humanSize(bytes) {
  let value = bytes;
  for (const unit of IEC_UNITS) {
    if (Math.abs(value) < 1024 || unit === "GiB") {
      return unit === "B" ? `${Math.round(value)} B` : `${value.toFixed(1)} ${unit}`;
    }
    value /= 1024;
  }
  return `${bytes} B`;
}

function humanRate(bytesPerS) {
  return `${humanSize(bytesPerS)}/s`;
}

function humanEta(seconds) {
  if (seconds === null || seconds === undefined) return "\u2014";
  if (seconds === 0) return "done";
  const whole = Math.ceil(seconds);
  const pad = (n) => String(n).padStart(2, "0");
  if (whole < 60) return `${whole}s`;
  if (whole < 3600) return `${Math.floor(whole / 60)}m${pad(whole % 60)}s`;
  if (whole < 100 * 3600) return `${Math.floor(whole / 3600)}h${pad(Math.floor(whole % 3600 / 60))}m`;
  return `${Math.floor(whole / 86400)}d`;
}

function clockTime(unixS) {
  return new Date(unixS * 1000).toLocaleTimeString([], {hour12: false});
}

// --- small DOM helpers ---------------------------------------------------

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

// --- connection state ------------------------------------------------------

const connection = {
  status: "connecting",  // connecting | live | disconnected | unauthorized
  firstDataMs: null,
};

function showConnection(state, detail) {
  connection.status = state;
  document.body.dataset.connection = state;
  const label = {
    connecting: "connecting…",
    live: "live",
    disconnected: "disconnected — retrying",
    unauthorized: "unauthorized — open this page with ?token=… (swarm keygen --http-token)",
  }[state];
  setText(document.getElementById("connection"), detail ? `${label} (${detail})` : label);
}

// --- totals ---------------------------------------------------------------

function renderTotals(status) {
  const t = status.totals;
  setText(document.getElementById("total-peers"), String(t.peers));
  setText(document.getElementById("total-files"), String(t.files));
  setText(document.getElementById("total-moved"), humanSize(t.moved_bytes));
  setText(document.getElementById("total-recv"), humanRate(t.recv_bytes_s));
  setText(document.getElementById("total-send"), humanRate(t.send_bytes_s));
  setText(document.getElementById("total-left"), humanSize(t.remaining_bytes));
  setText(document.getElementById("total-eta"), humanEta(t.eta_s));
  const when = status.time === undefined ? "" : `updated ${clockTime(status.time)} · `;
  setText(document.getElementById("updated"), `${when}event ${status.event}`);
}

// --- peers ----------------------------------------------------------------

const PEER_COLUMNS = ["peer", "endpoint", "role", "files", "held", "recv", "send"];
const NUMERIC_PEER_COLUMNS = new Set(["peer", "files", "held", "recv", "send"]);

function peerCells(peer, fileCount) {
  return {
    peer: String(peer.peer),
    endpoint: peer.endpoint,
    role: peer.role,
    files: `${peer.complete.length}/${fileCount}`,
    held: humanSize(peer.bytes_held),
    recv: humanRate(peer.recv_bytes_s),
    send: humanRate(peer.send_bytes_s),
  };
}

function renderPeers(status) {
  const body = document.querySelector("#peers tbody");
  const rows = new Map([...body.rows].map((row) => [row.dataset.peer, row]));
  status.peers.forEach((peer, index) => {
    const key = String(peer.peer);
    let row = rows.get(key);
    if (row === undefined) {
      row = element("tr");
      row.dataset.peer = key;
      for (const column of PEER_COLUMNS) {
        row.append(element("td", NUMERIC_PEER_COLUMNS.has(column) ? `num ${column}` : column));
      }
    }
    rows.delete(key);
    const cells = peerCells(peer, status.files.length);
    PEER_COLUMNS.forEach((column, i) => setText(row.cells[i], cells[column]));
    row.classList.toggle("sending", peer.send_bytes_s > 0);
    row.classList.toggle("receiving", peer.recv_bytes_s > 0);
    if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null);
  });
  for (const gone of rows.values()) gone.remove();
}

// --- files and the progress grid -----------------------------------------

// How much of a file a peer holds: "complete", "excused", "partial" (with the
// fraction) or "none".
function holding(file, peer) {
  if (peer.complete.includes(file.name)) return {state: "complete", fraction: 1};
  if (peer.excused.includes(file.name)) return {state: "excused", fraction: 0};
  const chunks = peer.chunks[file.name] || 0;
  if (chunks === 0 || file.chunks === 0) return {state: "none", fraction: 0};
  return {state: "partial", fraction: Math.min(1, chunks / file.chunks)};
}

function renderGridHeader(peers) {
  const head = document.querySelector("#files thead tr");
  const wanted = peers.map((p) => String(p.peer)).join(",");
  if (head.dataset.peers === wanted) return false;
  head.dataset.peers = wanted;
  for (const old of head.querySelectorAll("th.peer-col")) old.remove();
  for (const peer of peers) {
    const th = element("th", "peer-col", String(peer.peer));
    th.title = `peer ${peer.peer} · ${peer.endpoint}`;
    head.append(th);
  }
  document.getElementById("files").classList.toggle(
    "wide", peers.length > PERCENT_TEXT_MAX_PEERS);
  return true;
}

function newFileRow(name) {
  const row = element("tr");
  row.dataset.file = name;
  for (const column of ["name", "num size", "digest", "num copies", "num recv", "num eta"]) {
    row.append(element("td", column));
  }
  return row;
}

function renderProgressCells(row, file, peers, rebuilt) {
  const fixed = 6;
  if (rebuilt || row.cells.length !== fixed + peers.length) {
    while (row.cells.length > fixed) row.deleteCell(fixed);
    for (const peer of peers) {
      const td = element("td", "cell");
      td.dataset.peer = String(peer.peer);
      row.append(td);
    }
  }
  peers.forEach((peer, i) => {
    const td = row.cells[fixed + i];
    const held = holding(file, peer);
    const percent = Math.floor(held.fraction * 100);
    setAttr(td, "class", `cell ${held.state}`);
    setAttr(td, "data-percent", String(percent));
    td.style.setProperty("--fill", `${percent}%`);
    const what = held.state === "excused" ? "excused" : `${percent}%`;
    setAttr(td, "title", `peer ${peer.peer}: ${what} of ${file.name}`);
    setText(td, held.state === "partial" ? String(percent) : "");
  });
}

function renderFiles(status) {
  const rebuilt = renderGridHeader(status.peers);
  const body = document.querySelector("#files tbody");
  const rows = new Map([...body.rows].map((row) => [row.dataset.file, row]));
  status.files.forEach((file, index) => {
    let row = rows.get(file.name);
    if (row === undefined) row = newFileRow(file.name);
    rows.delete(file.name);
    const [name, size, digest, copies, recv, eta] = row.cells;
    setText(name, file.available ? file.name : `${file.name} (lost)`);
    name.title = file.name;
    row.classList.toggle("lost", !file.available);
    setText(size, humanSize(file.size));
    setText(digest, file.digest.slice(0, DIGEST_SHOWN));
    digest.title = file.digest;
    setText(copies, `${file.complete_holders.length}/${status.totals.peers}`);
    setText(recv, humanRate(file.recv_bytes_s));
    setText(eta, humanEta(file.eta_s));
    renderProgressCells(row, file, status.peers, rebuilt);
    if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null);
  });
  for (const gone of rows.values()) gone.remove();
}

// --- the throughput chart -------------------------------------------------

const samples = [];  // {t: unix seconds, recv, send: bytes/s}

function addSample(status) {
  const t = status.time === undefined ? Date.now() / 1000 : status.time;
  const last = samples[samples.length - 1];
  if (last !== undefined && t <= last.t) return;
  samples.push({t, recv: status.totals.recv_bytes_s, send: status.totals.send_bytes_s});
  while (samples.length > 0 && samples[0].t < t - CHART_WINDOW_S) samples.shift();
}

// A round top for the y axis, in the IEC unit the peak is shown in: 1, 2 or
// 5 times a power of ten of that unit.
function chartTop(peak) {
  let unit = 1;
  while (peak >= unit * 1024 && unit < 1024 ** 3) unit *= 1024;
  const scaled = Math.max(peak / unit, 1e-9);
  const power = 10 ** Math.floor(Math.log10(scaled));
  const step = [1, 2, 5, 10].find((m) => m * power >= scaled);
  return Math.max(step * power * unit, 1024);
}

function drawChart() {
  const canvas = document.getElementById("throughput");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (width === 0 || height === 0) return;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);

  const style = getComputedStyle(document.body);
  const color = (name) => style.getPropertyValue(name).trim();
  const left = 84;
  const bottom = height - 20;
  const top = 8;
  const right = width - 8;
  const now = samples.length ? samples[samples.length - 1].t : Date.now() / 1000;
  const span = samples.length ? now - samples[0].t : 0;
  const window_s = Math.min(CHART_WINDOW_S, Math.max(CHART_MIN_WINDOW_S, span));
  const peak = Math.max(0, ...samples.map((s) => Math.max(s.recv, s.send)));
  const yTop = chartTop(peak);
  const x = (t) => right - (now - t) / window_s * (right - left);
  const y = (v) => bottom - v / yTop * (bottom - top);

  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  ctx.strokeStyle = color("--grid");
  ctx.fillStyle = color("--muted");
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = 0; i <= 4; i++) {
    const value = yTop * i / 4;
    ctx.beginPath();
    ctx.moveTo(left, Math.round(y(value)) + 0.5);
    ctx.lineTo(right, Math.round(y(value)) + 0.5);
    ctx.stroke();
    ctx.fillText(humanRate(value), left - 6, y(value));
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const tick = CHART_TICKS_S.find((step) => window_s / step <= 6) || 60;
  for (let ago = 0; ago <= window_s; ago += tick) {
    const label = ago === 0 ? "now" : ago % 60 === 0 ? `\u2212${ago / 60} min` : `\u2212${ago} s`;
    ctx.fillText(label, Math.max(left + 16, Math.min(x(now - ago), right - 12)), bottom + 5);
  }
  drawLine(ctx, x, y, "recv", color("--recv"), []);
  drawLine(ctx, x, y, "send", color("--send"), [5, 3]);
}

function drawLine(ctx, x, y, key, stroke, dash) {
  ctx.save();
  ctx.strokeStyle = stroke;
  ctx.lineWidth = 2;
  ctx.lineJoin = "round";
  ctx.setLineDash(dash);
  ctx.beginPath();
  let previous = null;
  samples.forEach((sample, i) => {
    const next = samples[i + 1];
    const joinedBefore = previous !== null && sample.t - previous.t <= CHART_GAP_S;
    const joinedAfter = next !== undefined && next.t - sample.t <= CHART_GAP_S;
    if (joinedBefore) {
      ctx.lineTo(x(sample.t), y(sample[key]));
    } else {
      ctx.moveTo(x(sample.t), y(sample[key]));
      if (!joinedAfter) ctx.arc(x(sample.t), y(sample[key]), 1.5, 0, 2 * Math.PI);
    }
    previous = sample;
  });
  ctx.stroke();
  ctx.restore();
}

// --- polling /api/status ----------------------------------------------------

function render(status) {
  renderTotals(status);
  renderPeers(status);
  renderFiles(status);
  addSample(status);
  drawChart();
  if (connection.firstDataMs === null) {
    // The load time: from navigation to the first render of data.
    connection.firstDataMs = Math.round(performance.now());
    document.body.dataset.firstDataMs = String(connection.firstDataMs);
  }
  document.body.dataset.rendered = String(Number(document.body.dataset.rendered || 0) + 1);
}

async function poll() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), POLL_TIMEOUT_MS);
  try {
    const response = await fetch(apiUrl("/api/status"), {cache: "no-store", signal: abort.signal});
    if (response.status === 401) {
      showConnection("unauthorized");
    } else if (!response.ok) {
      showConnection("disconnected", `HTTP ${response.status}`);
    } else {
      render(await response.json());
      showConnection("live");
    }
  } catch (error) {
    showConnection("disconnected");
  } finally {
    clearTimeout(timer);
    setTimeout(poll, POLL_INTERVAL_MS);
  }
}

// --- the event stream -----------------------------------------------------

function describeEvent(event) {
  const peer = `peer ${event.peer}`;
  const count = (n, what) => `${n} ${what}${n === 1 ? "" : "s"}`;
  switch (event.event) {
    case "join":
      return `${peer} joined from ${event.endpoint}, offering ${count(event.offers.length, "file")}`;
    case "leave":
      return event.reason === "expired"
        ? `${peer} expired (missed heartbeats), received ${count(event.received.length, "file")}`
        : `${peer} left (${event.reason}), received ${count(event.received.length, "file")}`;
    case "file":
      return `new file ${event.name} (${humanSize(event.size)}) from peer ${event.owner}`;
    case "complete":
      return `${peer} completed ${event.file}`;
    case "lost":
      return `${event.file} lost: the living peers no longer cover it`;
    case "available":
      return `${event.file} available again`;
    case "excused":
      return `${peer} excused from ${event.file} (cannot hold it)`;
    case "unexcused":
      return `${peer} takes ${event.file} again`;
    case "dropped":
      return `${peer} no longer holds ${event.file}`;
    case "removed":
      return `${event.file} removed from the swarm`;
    case "warning":
    case "error":
      return event.message;
    default: {
      const {ts, event: kind, ...rest} = event;
      return Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ");
    }
  }
}

function showEvent(event) {
  if (event.event === "chunks") return;  // one per batch of chunks: the grid shows those
  const list = document.getElementById("events");
  const item = element("li", `event ${event.event}`);
  item.dataset.event = event.event;
  item.append(
    element("time", "", typeof event.ts === "number" ? clockTime(event.ts) : ""),
    element("span", "kind", event.event),
    element("span", "what", describeEvent(event)),
  );
  list.prepend(item);
  while (list.children.length > MAX_EVENTS_SHOWN) list.lastElementChild.remove();
}

let lastEventId = 0;

function followEvents() {
  const list = document.getElementById("events");
  const source = new EventSource(apiUrl("/api/events"));
  source.onopen = () => {
    // A stream opened afresh replays the tracker's recent events (and a
    // tracker that came back is a new one, counting ids from 1 again): the
    // list starts over from what it sends.
    if (list.dataset.stream === "closed") {
      list.replaceChildren();
      lastEventId = 0;
    }
    list.dataset.stream = "open";
  };
  source.onmessage = (message) => {
    const id = Number(message.lastEventId);
    if (Number.isInteger(id) && id > 0) {
      if (id <= lastEventId) return;  // shown already
      lastEventId = id;
    }
    try {
      showEvent(JSON.parse(message.data));
    } catch (error) {
      // not JSON: nothing a person could read either
    }
  };
  source.onerror = () => {
    // Opened again by hand rather than by the browser, which would ask to
    // resume after an id that a new tracker does not know.
    list.dataset.stream = "closed";
    source.close();
    setTimeout(followEvents, EVENTS_RETRY_MS);
  };
}

window.addEventListener("resize", drawChart);
showConnection("connecting");
poll();
if (eventsWanted) followEvents();
