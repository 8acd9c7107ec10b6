"use strict";
// The explain page: Python computed every number (tf_transformer.explain); this script
// only inflates them and draws. No request is made: everything is in this file.

const S = { group: 0, layer: 0, head: 0, query: 0, step: 0, position: -1, temperature: 1,
            topK: 0, topP: 1 };
let T = null;  // the trace, arrays resolved
const $ = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "on") for (const [e, f] of Object.entries(v)) node.addEventListener(e, f);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
};
const SVG = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
};
const fmt = (x, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

// ---- the data: float16/float32/int32/uint8 arrays in one deflated block
const HALF = (() => {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, f = h & 1023;
    table[h] = e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? NaN : s * Infinity)
      : s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return table;
})();
function arrayOf(ref, buffer) {
  const n = ref.shape.reduce((a, b) => a * b, 1);
  let data;
  if (ref.dtype === "f2" || ref.dtype === "p2") {
    const bytes = new Uint8Array(buffer, ref.$, 2 * n);  // n low bytes, then n high bytes
    data = new Float32Array(n);
    if (ref.dtype === "f2") for (let i = 0; i < n; i++) data[i] = HALF[bytes[i] | (bytes[n + i] << 8)];
    else for (let i = 0; i < n; i++) data[i] = (bytes[i] | (bytes[n + i] << 8)) / 65535;  // probabilities
  } else if (ref.dtype === "f4") data = new Float32Array(buffer, ref.$, n);
  else if (ref.dtype === "i4") data = new Int32Array(buffer, ref.$, n);
  else data = new Uint8Array(buffer, ref.$, n);
  return { data, shape: ref.shape };
}
function resolve(value, buffer) {
  if (Array.isArray(value)) return value.map((v) => resolve(v, buffer));
  if (value && typeof value === "object") {
    if ("$" in value && "dtype" in value) return arrayOf(value, buffer);
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolve(v, buffer);
    return out;
  }
  return value;
}
// base85, RFC 1924's alphabet (Python's base64.b85encode): 5 characters, 4 bytes
const B85 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";
function base85(text) {
  const value = new Uint8Array(128);
  for (let i = 0; i < B85.length; i++) value[B85.charCodeAt(i)] = i;
  const tail = text.length % 5, whole = text.length - tail;
  const out = new Uint8Array((whole / 5) * 4 + (tail ? tail - 1 : 0));
  let o = 0;
  const chunk = (start, count) => {
    let n = 0;
    for (let k = 0; k < 5; k++) n = n * 85 + (k < count ? value[text.charCodeAt(start + k)] : 84);
    for (let k = 0; k < 4 && o < out.length; k++) out[o++] = (n >>> (24 - 8 * k)) & 255;
  };
  for (let i = 0; i < whole; i += 5) chunk(i, 5);
  if (tail) chunk(whole, tail);
  return out;
}
async function load() {
  const description = JSON.parse(document.getElementById("trace").textContent);
  const bytes = base85(document.getElementById("trace-data").textContent.trim());
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  const buffer = await new Response(stream).arrayBuffer();
  return resolve(description, buffer);
}
// row-major access: at(a, i, j, ...)
function at(a, ...index) {
  let offset = 0;
  for (let d = 0; d < index.length; d++) offset = offset * a.shape[d] + index[d];
  return a.data[offset];
}
function row(a, ...index) {
  const size = a.shape.slice(index.length).reduce((x, y) => x * y, 1);
  let offset = 0;
  for (let d = 0; d < index.length; d++) offset = offset * a.shape[d] + index[d];
  return Array.from(a.data.subarray(offset * size, offset * size + size));
}

// ---- colour: viridis anchors (colour-blind safe), and a diverging purple-orange
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const DIVERGING = [[84, 39, 136], [153, 142, 195], [247, 247, 247], [241, 163, 64], [179, 88, 6]];
function colour(scale, x) {
  const t = Math.min(1, Math.max(0, x)) * (scale.length - 1), i = Math.min(Math.floor(t), scale.length - 2);
  const f = t - i;
  return scale[i].map((c, k) => Math.round(c + f * (scale[i + 1][k] - c)));
}

// ---- shared widgets
function tooltip(text, event) {
  const tip = document.getElementById("tooltip");
  if (!text) { tip.hidden = true; return; }
  tip.textContent = text; tip.hidden = false;
  tip.style.left = `${event.clientX + 12}px`; tip.style.top = `${event.clientY + 12}px`;
}
function download(name, url) {
  const link = $("a", { href: url, download: name });
  document.body.append(link); link.click(); link.remove();
}
function csv(rows) {
  return rows.map((r) => r.map((c) => (typeof c === "string" ? `"${c.replace(/"/g, '""')}"` : c)).join(",")).join("\n");
}
// a chart's PNG and CSV buttons and, unless it has its own, its numbers as a table
function saveButtons(name, canvasOrSvg, rows, { table: withTable = true } = {}) {
  const box = $("span", { class: "save" });
  if (canvasOrSvg) box.append($("button", { text: "PNG", on: { click: () => png(name, canvasOrSvg()) } }));
  box.append($("button", { text: "CSV", on: { click: () => {
    const blob = new Blob([csv(rows())], { type: "text/csv" });
    download(`${name}.csv`, URL.createObjectURL(blob));
  } } }));
  if (withTable) {
    const details = $("details", { class: "as-table" }, $("summary", { text: "as a table" }));
    details.addEventListener("toggle", () => {
      details.querySelector("div")?.remove();
      if (!details.open) return;
      const r = rows();
      details.append($("div", { class: "scroll" }, table(r[0], r.slice(1))));
    });
    box.append(details);
  }
  return box;
}
function png(name, node) {
  if (node instanceof HTMLCanvasElement) { download(`${name}.png`, node.toDataURL("image/png")); return; }
  const image = new Image();
  const box = node.getBBox ? node.getBoundingClientRect() : { width: 600, height: 300 };
  image.onload = () => {
    const canvas = $("canvas", { width: Math.ceil(box.width), height: Math.ceil(box.height) });
    const context = canvas.getContext("2d");
    context.fillStyle = "#fff"; context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(image, 0, 0);
    download(`${name}.png`, canvas.toDataURL("image/png"));
  };
  const text = new XMLSerializer().serializeToString(node);
  image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}`;
}
function table(head, rows, classes = () => "") {
  const t = $("table");
  t.append($("tr", {}, ...head.map((h, i) => $("th", { class: i === 0 ? "text" : "", text: h }))));
  rows.forEach((r, i) => t.append($("tr", { class: classes(i) },
    ...r.map((c, j) => $("td", { class: typeof c === "string" && j === 0 ? "text" : "", text: typeof c === "number" ? fmt(c) : c })))));
  return t;
}
function section(id, title, note) {
  const s = $("section", { id }, $("h2", { text: title }));
  if (note) s.append($("p", { class: "note", text: note }));
  document.getElementById("main").append(s);
  document.getElementById("contents").append($("a", { href: `#${id}`, text: title,
    on: { click: (e) => { e.preventDefault(); s.scrollIntoView(); } } }));
  return s;
}
// a matrix on a canvas: value in [0, 1] -> viridis; masked cells hatched grey
function drawMatrix(canvas, rows, cols, value, masked, cell) {
  const values = [];  // each cell's value once (null: masked)
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) values.push(masked(i, j) ? null : value(i, j));
  let top = 0;  // brightest = the matrix's largest weight, so a diffuse head still shows
  for (const v of values) if (v !== null && v > top) top = v;
  top = top || 1;
  canvas.dataset.top = top;
  canvas.width = cols * cell; canvas.height = rows * cell;
  const colours = values.map((v) => (v === null ? null : colour(VIRIDIS, v / top)));
  const context = canvas.getContext("2d");
  const image = context.createImageData(canvas.width, canvas.height);
  for (let y = 0; y < canvas.height; y++) {
    for (let x = 0; x < canvas.width; x++) {
      const c = colours[Math.floor(y / cell) * cols + Math.floor(x / cell)]
        ?? ((x + y) % 4 === 0 ? [120, 120, 120] : [215, 215, 215]);
      const k = 4 * (y * canvas.width + x);
      image.data[k] = c[0]; image.data[k + 1] = c[1]; image.data[k + 2] = c[2]; image.data[k + 3] = 255;
    }
  }
  context.putImageData(image, 0, 0);
}

// ---- state in the URL fragment
function readHash() {
  const keys = { g: "group", l: "layer", h: "head", q: "query", s: "step", p: "position", t: "temperature" };
  for (const part of location.hash.slice(1).split("&")) {
    const [k, v] = part.split("=");
    if (keys[k] && v !== undefined && Number.isFinite(Number(v))) S[keys[k]] = Number(v);
  }
}
function writeHash() {
  const hash = `#g=${S.group}&l=${S.layer}&h=${S.head}&q=${S.query}&s=${S.step}&p=${S.position}&t=${S.temperature}`;
  history.replaceState(null, "", hash);
}
function clampState() {
  const groups = T.attention;
  S.group = Math.min(Math.max(0, S.group), groups.length - 1);
  const w = groups[S.group].weights.shape;
  S.layer = Math.min(Math.max(0, S.layer), w[0] - 1);
  S.head = Math.min(Math.max(0, S.head), w[1] - 1);
  S.query = Math.min(Math.max(0, S.query), w[2] - 1);
  const steps = T.output.logits ? T.output.logits.shape[0] : 1;
  S.step = Math.min(Math.max(0, S.step), Math.max(0, steps - 1));
  S.temperature = Math.min(Math.max(0, S.temperature), 5);
}
const views = [];  // functions that redraw from S
function update(changes = {}) {
  Object.assign(S, changes);
  clampState();
  writeHash();
  for (const view of views) view();
}
const stream = (name) => T.tokens.find((s) => s.name === name);
const vocab = (id) => T.vocabulary[id] ?? `#${id}`;

// ---- 7. the header
function header() {
  const m = T.meta, c = T.check;
  const h = document.getElementById("header");
  h.append($("h1", { text: `tf-transformer explain: ${m.family}` }));
  const dl = $("dl");
  const items = [["model", m.model], ["preset", m.preset ?? "custom"], ["run", m.run || "(in memory)"],
    ["parameters", m.parameters.toLocaleString("en")], ["precision", m.precision], ["text", m.text]];
  if (m.pair !== undefined) items.push(["pair", m.pair]);
  if (m.reference !== undefined) items.push(["reference", m.reference]);
  for (const [k, v] of items) dl.append($("div", {}, $("dt", { text: k }), $("dd", { text: v })));
  h.append(dl);
  h.append($("p", { class: `check ${c.passed ? "passed" : "failed"}`, id: "check",
    text: `${c.passed ? "✓ checked" : "✗ check failed"}: ${c.compared}; largest difference ` +
      `${c.difference.toExponential(2)} (tolerance ${c.tolerance})` +
      (c.disagreements.length ? `; disagreements at ${c.disagreements.join(", ")}` : "") }));
}

// ---- 1. tokens
function tokens() {
  const s = section("tokens", "1. Tokens", "The pieces the tokenizer cut the text into, with their ids. " +
    "Special tokens are shaded, [UNK] is red, pieces a --seq-len cut dropped are struck out. " +
    "Choose a token to follow it through the attention views.");
  for (const st of T.tokens) {
    s.append($("h3", { text: `${st.name}: ${st.ids.length} tokens` +
      (st.dropped.length ? `, ${st.dropped.length} dropped` : "") }));
    const chips = $("div", { class: "chips", role: "listbox", "aria-label": `${st.name} tokens` });
    st.pieces.forEach((piece, i) => {
      const cls = ["chip", st.special[i] ? "special" : "", st.unknown[i] ? "unknown" : ""].join(" ");
      const seg = st.segments ? ` segment ${st.segments[i]}` : "";
      chips.append($("button", { class: cls, "data-stream": st.name, "data-index": i,
        title: `position ${i}, id ${st.ids[i]}${seg}`, on: { click: () => chooseToken(st.name, i) } },
        piece, $("small", { text: st.ids[i] })));
    });
    for (const piece of st.dropped) chips.append($("span", { class: "chip dropped", text: piece }));
    s.append(chips);
  }
  views.push(() => {
    const group = T.attention[S.group];
    document.querySelectorAll(".chip[data-stream]").forEach((chip) => {
      const on = chip.dataset.stream === group.queries && Number(chip.dataset.index) === S.query;
      chip.classList.toggle("chosen", on);
      chip.setAttribute("aria-selected", on);
    });
  });
}
function chooseToken(name, index) {
  const group = T.attention[S.group];
  if (group.queries !== name) {
    const other = T.attention.findIndex((g) => g.queries === name);
    if (other >= 0) { update({ group: other, query: index }); return; }
  }
  update({ query: index, step: T.output.kind === "steps" ? index : S.step });
}

// ---- 2. into the first layer
function embedding() {
  const s = section("embedding", "2. Into the first layer", "Each token's embedding (times √d_model " +
    "where the model scales it) plus the positional encoding is what the first layer reads. " +
    "Bars: the norm of each per token. The heatmap is the encoding (positions down, dimensions " +
    "across); the curve is the cosine similarity of the chosen position's encoding to every other.");
  T.embedding.forEach((e, n) => {
    const names = ["token embedding" + (e.scale !== 1 ? ` ×${fmt(e.scale, 2)}` : ""), `${e.position} position`, "sum"];
    const st = T.tokens[Math.min(n, T.tokens.length - 1)];
    const length = e.norms.shape[1];
    s.append($("h3", { text: `${e.stack}: ${e.position} positions` }));
    if (T.meta.family === "bert") s.append($("p", { class: "note", text: "BERT then adds each " +
      "token's segment embedding and normalizes the sum (LayerNorm) before its first layer." }));
    const chart = svg("svg", { width: Math.max(560, length * 14 + 60), height: 150, role: "img",
      "aria-label": `norms of the ${e.stack} embedding` });
    const top = Math.max(...e.norms.data);
    for (let k = 0; k < 3; k++) {
      for (let i = 0; i < length; i++) {
        const v = at(e.norms, k, i), hgt = (v / top) * 110;
        const r = svg("rect", { x: 40 + i * 14 + k * 4, y: 120 - hgt, width: 4, height: hgt,
          fill: `rgb(${colour(VIRIDIS, k / 2.2).join(",")})` });
        r.append(svg("title"));
        r.firstChild.textContent = `${st.pieces[i] ?? i}: ${names[k]} ${fmt(v, 3)}`;
        chart.append(r);
      }
    }
    names.forEach((name, k) => {
      const t = svg("text", { x: 40 + k * 160, y: 142, fill: `rgb(${colour(VIRIDIS, k / 2.2).join(",")})` });
      t.textContent = `■ ${name}`; chart.append(t);
    });
    const rows = () => [["token", ...names], ...st.pieces.slice(0, length).map((p, i) => [p, at(e.norms, 0, i), at(e.norms, 1, i), at(e.norms, 2, i)])];
    s.append($("div", {}, chart, saveButtons(`${e.stack}-embedding-norms`, () => chart, rows)));
    const [positions, depth] = e.encoding.shape;
    const heat = $("canvas", { class: "matrix", "aria-label": "positional encoding heatmap" });
    const range = Math.max(...e.encoding.data.map(Math.abs)) || 1;
    const cell = Math.max(2, Math.min(6, Math.floor(512 / depth)));
    heat.width = depth * cell; heat.height = positions * cell;
    const context = heat.getContext("2d");
    for (let i = 0; i < positions; i++) for (let j = 0; j < depth; j++) {
      context.fillStyle = `rgb(${colour(DIVERGING, (at(e.encoding, i, j) / range + 1) / 2).join(",")})`;
      context.fillRect(j * cell, i * cell, cell, cell);
    }
    heat.addEventListener("mousemove", (ev) => {
      const r = heat.getBoundingClientRect();
      const i = Math.floor(((ev.clientY - r.top) / r.height) * positions), j = Math.floor(((ev.clientX - r.left) / r.width) * depth);
      if (i >= 0 && i < positions && j >= 0 && j < depth) tooltip(`position ${i}, dimension ${j}: ${fmt(at(e.encoding, i, j))}`, ev);
    });
    heat.addEventListener("mouseleave", () => tooltip(""));
    const similarity = svg("svg", { width: 420, height: 160, role: "img", "aria-label": "position similarity" });
    const slider = $("input", { type: "range", min: 0, max: positions - 1, value: 0, "aria-label": "position" });
    const drawSimilarity = () => {
      similarity.replaceChildren();
      const p = Number(slider.value), a = row(e.encoding, p);
      const norm = (v) => Math.sqrt(v.reduce((x, y) => x + y * y, 0)) || 1;
      const values = [];
      for (let i = 0; i < positions; i++) {
        const b = row(e.encoding, i);
        values.push(a.reduce((x, y, k) => x + y * b[k], 0) / (norm(a) * norm(b)));
      }
      const points = values.map((v, i) => `${30 + (i / Math.max(1, positions - 1)) * 380},${80 - v * 70}`).join(" ");
      similarity.append(svg("line", { x1: 30, x2: 410, y1: 80, y2: 80, stroke: "#ccc" }));
      similarity.append(svg("polyline", { points, fill: "none", stroke: "#3b528b", "stroke-width": 1.5 }));
      const label = svg("text", { x: 30, y: 155 }); label.textContent = `cosine similarity to position ${p}`;
      similarity.append(label);
      similarity.dataset.values = JSON.stringify(values.map((v) => +v.toFixed(4)));
    };
    slider.addEventListener("input", drawSimilarity);
    drawSimilarity();
    const encodingRows = () => [["position", ...Array.from({ length: depth }, (_, j) => `d${j}`)],
      ...Array.from({ length: positions }, (_, i) => [String(i), ...row(e.encoding, i)])];
    s.append($("div", { class: "row" },
      $("div", { class: "panel" }, heat, saveButtons(`${e.stack}-positional-encoding`, () => heat, encodingRows)),
      $("div", { class: "panel" }, similarity, $("label", {}, "position ", slider))));
  });
}

// ---- 3. attention
function attention() {
  const s = section("attention", "3. Attention", "Every layer and head. The grid shows each head's " +
    "weights (queries down, keys across; brightest = the head's largest weight); choose one (arrow keys move) for the " +
    "head view and the matrix. Grey hatching is masked (padding, or the future in causal " +
    "attention): weight exactly 0, not small. Entropy is in nats (0 = one key; ln n = uniform).");
  const buttons = $("div", { class: "controls", role: "tablist" });
  T.attention.forEach((g, i) => buttons.append($("button", { class: "group", role: "tab", "data-group": i,
    text: g.name, on: { click: () => update({ group: i }) } })));
  s.append(buttons);
  const grid = $("div", { class: "grid", role: "grid", "aria-label": "layers by heads" });
  const headView = svg("svg", { role: "img", "aria-label": "head view" });
  const matrix = $("canvas", { class: "matrix", id: "attention-matrix", "aria-label": "attention matrix" });
  const entropy = $("div", { class: "scroll" });
  const summary = $("canvas", { class: "matrix", id: "attention-summary", "aria-label": "head average or rollout" });
  const summaryLabel = $("h3");
  const matrixLabel = $("h3");
  const tableBox = $("details", {}, $("summary", { text: "this head as a table" }));
  s.append($("div", { class: "row" }, $("div", { class: "panel" }, $("h3", { text: "layers × heads" }), grid),
    $("div", { class: "panel" }, $("h3", { text: "head view: lines from each query to its keys" }), headView,
      saveButtons("head-view", () => headView, () => currentMatrixRows(), { table: false }))));
  const matrixSave = saveButtons("attention", () => matrix, () => currentMatrixRows(), { table: false });
  s.append($("div", { class: "row" },
    $("div", { class: "panel" }, matrixLabel, matrix, matrixSave, tableBox),
    $("div", { class: "panel" }, summaryLabel, summary, saveButtons("attention-summary", () => summary, () => summaryRows())),
    $("div", { class: "panel" }, $("h3", { text: "entropy per head (nats)" }), entropy)));
  let drawnGroup = -1;
  grid.addEventListener("keydown", (ev) => {
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (!moves[ev.key]) return;
    ev.preventDefault();
    update({ layer: S.layer + moves[ev.key][0], head: S.head + moves[ev.key][1] });
    grid.querySelector('canvas[aria-selected="true"]')?.focus();
  });
  matrix.addEventListener("mousemove", (ev) => {
    const g = T.attention[S.group], [, , q, k] = g.weights.shape, r = matrix.getBoundingClientRect();
    const i = Math.floor(((ev.clientY - r.top) / r.height) * q), j = Math.floor(((ev.clientX - r.left) / r.width) * k);
    if (i < 0 || j < 0 || i >= q || j >= k) return;
    const masked = at(g.masked, i, j) ? " (masked)" : "";
    tooltip(`${stream(g.queries).pieces[i]} → ${stream(g.keys).pieces[j]}: ${fmt(at(g.weights, S.layer, S.head, i, j))}${masked}`, ev);
  });
  matrix.addEventListener("mouseleave", () => tooltip(""));
  matrix.addEventListener("click", (ev) => {
    const g = T.attention[S.group], r = matrix.getBoundingClientRect();
    update({ query: Math.floor(((ev.clientY - r.top) / r.height) * g.weights.shape[2]) });
  });
  tableBox.addEventListener("toggle", () => drawTable());
  function drawTable() {
    tableBox.querySelector("table")?.remove();
    if (!tableBox.open) return;
    const rows = currentMatrixRows();
    tableBox.append($("div", { class: "scroll" }, table(rows[0], rows.slice(1), (i) => (i === S.query ? "selected" : ""))));
  }
  views.push(() => {
    const g = T.attention[S.group], [layers, heads, q, k] = g.weights.shape;
    buttons.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", Number(b.dataset.group) === S.group));
    if (drawnGroup !== S.group) {  // thumbnails: one pixel a weight, scaled by CSS
      grid.replaceChildren();
      grid.style.gridTemplateColumns = `40px repeat(${heads}, 60px)`;
      grid.append($("span"));
      for (let h = 0; h < heads; h++) grid.append($("span", { class: "label", text: `head ${h + 1}` }));
      for (let l = 0; l < layers; l++) {
        grid.append($("span", { class: "label", text: `layer ${l + 1}` }));
        for (let h = 0; h < heads; h++) {
          const c = $("canvas", { role: "gridcell", tabindex: -1, "data-layer": l, "data-head": h,
            "aria-label": `layer ${l + 1} head ${h + 1}`, on: { click: () => update({ layer: l, head: h }) } });
          drawMatrix(c, q, k, (i, j) => at(g.weights, l, h, i, j), (i, j) => at(g.masked, i, j), 1);
          grid.append(c);
        }
      }
      drawnGroup = S.group;
    }
    grid.querySelectorAll("canvas").forEach((c) => {
      const on = Number(c.dataset.layer) === S.layer && Number(c.dataset.head) === S.head;
      c.setAttribute("aria-selected", on); c.tabIndex = on ? 0 : -1;
    });
    const cell = Math.max(1, Math.min(24, Math.floor(420 / Math.max(q, k))));
    drawMatrix(matrix, q, k, (i, j) => at(g.weights, S.layer, S.head, i, j), (i, j) => at(g.masked, i, j), cell);
    matrixLabel.textContent = `${g.name}, layer ${S.layer + 1}, head ${S.head + 1} (${g.queries} down, ${g.keys} across)`;
    drawHeadView(headView, g);
    summaryLabel.textContent = g.rollout ? "attention rollout through the layers" : `head average, layer ${S.layer + 1}`;
    drawMatrix(summary, q, k, (i, j) => summaryValue(g, i, j), (i, j) => at(g.masked, i, j),
      Math.max(1, Math.min(12, Math.floor(260 / Math.max(q, k)))));
    entropy.replaceChildren(table(["layer", ...Array.from({ length: heads }, (_, h) => `head ${h + 1}`)],
      Array.from({ length: layers }, (_, l) => [`layer ${l + 1}`, ...Array.from({ length: heads }, (_, h) => at(g.entropy, l, h))]),
      (l) => (l === S.layer ? "selected" : "")));
    drawTable();
  });
}
function summaryRows() {  // the rollout (self-attention) or this layer's head average
  const g = T.attention[S.group], [, , q, k] = g.weights.shape;
  const keys = stream(g.keys).pieces, queries = stream(g.queries).pieces;
  return [["query \\ key", ...keys], ...Array.from({ length: q }, (_, i) => [queries[i], ...Array.from({ length: k }, (_, j) => summaryValue(g, i, j))])];
}
function summaryValue(g, i, j) {
  if (g.rollout) return at(g.rollout, i, j);
  const heads = g.weights.shape[1];
  let total = 0;
  for (let h = 0; h < heads; h++) total += at(g.weights, S.layer, h, i, j);
  return total / heads;
}
function currentMatrixRows() {
  const g = T.attention[S.group], keys = stream(g.keys).pieces, queries = stream(g.queries).pieces;
  return [["query \\ key", ...keys], ...queries.map((p, i) => [p, ...row(g.weights, S.layer, S.head, i)])];
}
function drawHeadView(node, g) {
  const queries = stream(g.queries).pieces, keys = stream(g.keys).pieces;
  const step = 16, height = Math.max(queries.length, keys.length) * step + 10;
  node.replaceChildren();
  node.setAttribute("width", 420); node.setAttribute("height", height);
  const weights = row(g.weights, S.layer, S.head);
  const label = (x, y, text, anchor, i, side) => {
    const t = svg("text", { x, y, "text-anchor": anchor, "data-side": side, "data-index": i,
      "font-weight": side === "query" && i === S.query ? "bold" : "normal" });
    t.textContent = text.length > 14 ? `${text.slice(0, 13)}…` : text;
    if (side === "query") {
      t.style.cursor = "pointer";
      t.addEventListener("mouseenter", () => isolate(i));
      t.addEventListener("mouseleave", () => isolate(S.query));
      t.addEventListener("click", () => update({ query: i }));
    }
    node.append(t);
  };
  queries.forEach((p, i) => label(130, 14 + i * step, p, "end", i, "query"));
  keys.forEach((p, j) => label(290, 14 + j * step, p, "start", j, "key"));
  const lines = svg("g");
  for (let i = 0; i < queries.length; i++) {
    for (let j = 0; j < keys.length; j++) {
      const w = weights[i * keys.length + j];
      if (w < 0.01) continue;
      lines.append(svg("line", { x1: 136, y1: 10 + i * step, x2: 284, y2: 10 + j * step, stroke: "#e66100",
        "stroke-opacity": w, "stroke-width": 1 + 2 * w, "data-query": i }));
    }
  }
  node.append(lines);
  const isolate = (i) => lines.querySelectorAll("line").forEach((l) => { l.style.display = Number(l.dataset.query) === i ? "" : "none"; });
  isolate(S.query);
}

// ---- 4. one head worked through
function worked() {
  const s = section("worked", "4. One head worked through", "For the chosen token and head: its " +
    "query q, each key k, the scaled score q·k/√d_k, the mask, the softmax, and the weighted values " +
    "Σ p·v, computed here from the query, key and value vectors the layer's own weights give. " +
    "The last column is the weight the layer itself computed.");
  const info = $("p", { class: "note" });
  const box = $("div", { class: "scroll" });
  const vectors = $("div", { class: "row" });
  s.append(info, vectors, box);
  views.push(() => {
    const w = computeWorked();
    const g = T.attention[S.group];
    info.textContent = `${g.name}, layer ${S.layer + 1}, head ${S.head + 1}, query "${w.query}" ` +
      `(position ${S.query}); d_k = ${w.q.length}, scale 1/√d_k = ${fmt(g.scale)}. ` +
      `Largest difference from the layer's weights here: ${w.difference.toExponential(2)} (float16 q, k); ` +
      `in Python, float32: probabilities ${g.probability_error.toExponential(2)}, ` +
      `heads through the output projection vs what the layer added ${g.output_error.toExponential(2)}` +
      (T.meta.precision.includes("bfloat16") ? " (the model computes in bfloat16, whose rounding is about 1e-2)." : ".");
    vectors.replaceChildren(
      $("div", { class: "panel" }, $("h3", { text: "q" }), strip(w.q)),
      $("div", { class: "panel" }, $("h3", { text: "Σ p·v (this head's output)" }), strip(w.output)));
    box.replaceChildren(table(["key", "q·k", "× scale", "mask", "softmax", "layer's weight"],
      w.rows.map((r) => [r.key, r.dot, r.scaled, r.masked ? "masked" : "", r.p, r.captured]),
      (i) => (w.rows[i].masked ? "masked" : "")));
  });
}
function strip(values) {
  const c = $("canvas", { width: values.length * 8, height: 14, class: "matrix", title: values.map((v) => fmt(v, 3)).join(" ") });
  const context = c.getContext("2d"), top = Math.max(...values.map(Math.abs)) || 1;
  values.forEach((v, i) => { context.fillStyle = `rgb(${colour(DIVERGING, (v / top + 1) / 2).join(",")})`; context.fillRect(i * 8, 0, 8, 14); });
  return c;
}
function computeWorked() {
  const g = T.attention[S.group], keys = stream(g.keys).pieces;
  const q = row(g.q, S.layer, S.head, S.query);
  const dot = keys.map((_, j) => row(g.k, S.layer, S.head, j).reduce((a, b, d) => a + b * q[d], 0));
  const masked = keys.map((_, j) => at(g.masked, S.query, j) === 1);
  const scaled = dot.map((d) => d * g.scale);
  const top = Math.max(...scaled.filter((_, j) => !masked[j]));
  const exp = scaled.map((v, j) => (masked[j] ? 0 : Math.exp(v - top)));
  const total = exp.reduce((a, b) => a + b, 0);
  const p = exp.map((e) => e / total);
  const captured = keys.map((_, j) => at(g.weights, S.layer, S.head, S.query, j));
  const output = new Array(q.length).fill(0);
  keys.forEach((_, j) => row(g.v, S.layer, S.head, j).forEach((v, d) => { output[d] += p[j] * v; }));
  return { query: stream(g.queries).pieces[S.query], q, output, p, captured,
    difference: Math.max(...p.map((x, j) => Math.abs(x - captured[j]))),
    rows: keys.map((key, j) => ({ key, dot: dot[j], scaled: scaled[j], masked: masked[j], p: p[j], captured: captured[j] })) };
}

// ---- 5. the residual stream
function residual() {
  const s = section("residual", "5. The residual stream", "Each sublayer reads the stream and adds " +
    "to it. Bars: the mean norm, over the tokens, of the stream each sublayer reads, of what it adds, " +
    "and of what it passes on." + (T.lens ? " The logit lens reads each layer's stream through the " +
    "model's output head: the likeliest token at each position, after each layer." : ""));
  for (const r of T.residual) {
    const [n, , length] = r.norms.shape;
    const means = Array.from({ length: n }, (_, i) => [0, 1, 2].map((k) => row(r.norms, i, k).reduce((a, b) => a + b, 0) / length));
    const top = Math.max(...means.flat()) || 1;
    const chart = svg("svg", { width: Math.max(480, 80 + n * 40), height: 215, role: "img", "aria-label": `${r.stack} residual norms` });
    ["the stream it reads", "what it adds", "what it passes on"].forEach((name, k) => {
      const t = svg("text", { x: 40 + k * 150, y: 210, fill: `rgb(${colour(VIRIDIS, k / 2.2).join(",")})` });
      t.textContent = `■ ${name}`; chart.append(t);
    });
    means.forEach((m, i) => {
      m.forEach((v, k) => {
        const hgt = (v / top) * 120;
        const rect = svg("rect", { x: 40 + i * 40 + k * 10, y: 130 - hgt, width: 9, height: hgt, fill: `rgb(${colour(VIRIDIS, k / 2.2).join(",")})` });
        rect.append(svg("title")); rect.firstChild.textContent = `${r.labels[i]}: ${["reads", "adds", "passes on"][k]} ${fmt(v, 3)}`;
        chart.append(rect);
      });
      const t = svg("text", { x: 40 + i * 40, y: 145, transform: `rotate(30 ${40 + i * 40} 145)` });
      t.textContent = r.labels[i].replace("layer ", "L").replace("self-attention", "attn").replace("cross-attention", "cross").replace("feed-forward", "ffn");
      chart.append(t);
    });
    s.append($("h3", { text: r.stack }), chart, saveButtons(`${r.stack}-residual`, () => chart,
      () => [["sublayer", "reads", "adds", "passes on"], ...means.map((m, i) => [r.labels[i], ...m])]));
  }
  if (!T.lens) return;
  const st = stream(T.lens.stream), [layers, positions] = T.lens.ids.shape;
  const rows = Array.from({ length: layers }, (_, l) => [`after layer ${l + 1}`,
    ...Array.from({ length: positions }, (_, i) => `${vocab(at(T.lens.ids, l, i, 0))} ${fmt(at(T.lens.probabilities, l, i, 0), 2)}`)]);
  const lens = table(["", ...st.pieces], rows);
  lens.id = "logit-lens";
  const k = T.lens.ids.shape[2];
  for (let l = 0; l < layers; l++) for (let i = 0; i < positions; i++) {  // hover: the top k
    lens.rows[l + 1].cells[i + 1].title = Array.from({ length: k },
      (_, r) => `${vocab(at(T.lens.ids, l, i, r))} ${fmt(at(T.lens.probabilities, l, i, r), 3)}`).join("\n");
  }
  const what = T.meta.family === "bert" ? "token at each position, as the masked-LM head reads it"
    : "next token at each position";
  s.append($("h3", { text: `logit lens: the likeliest ${what}, after each layer` }), $("div", { class: "scroll" }, lens),
    saveButtons("logit-lens", null, () => [["layer", ...st.pieces], ...rows], { table: false }));
}

// ---- 6. the output
function probabilities(logits, temperature, topK, topP) {
  // exact softmax at a temperature (max subtracted; 0 = argmax), then the sampler's cuts
  const n = logits.length;
  let p;
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
    p = new Float64Array(n); p[best] = 1;
  } else {
    let top = -Infinity;
    for (let i = 0; i < n; i++) top = Math.max(top, logits[i]);
    p = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) { p[i] = Math.exp((logits[i] - top) / temperature); total += p[i]; }
    for (let i = 0; i < n; i++) p[i] /= total;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[b] - p[a] || a - b);
  const kept = new Uint8Array(n).fill(1);
  if (topK > 0 && topK < n) { const kth = p[order[topK - 1]]; for (let i = 0; i < n; i++) if (p[i] < kth) kept[i] = 0; }
  if (topP < 1) {
    let before = 0, threshold = p[order[0]];
    const rest = order.filter((i) => kept[i]);
    const mass = rest.reduce((a, i) => a + p[i], 0);
    for (const i of rest) { if (before / mass < topP) threshold = p[i]; else break; before += p[i]; }
    for (let i = 0; i < n; i++) if (p[i] < threshold) kept[i] = 0;
  }
  return { p, order, kept };
}
function output() {
  const o = T.output;
  const notes = { steps: "At each step the decoder's distribution over the target vocabulary; the " +
    "greedy translation takes the likeliest. The step scrubber follows the output token by token.",
  next_token: "The next-token distribution at every position of the text (the last one is what " +
    "generation samples from), with the sampler's temperature, top-k and top-p as generation applies them.",
  masks: "The model's distribution over the vocabulary at each [MASK].",
  classes: "The classifier's probabilities over its labels.", tags: "Each word's tag, read at its first piece; IOB entity tags are read as a sequence (the IOB rule, and a CRF's transitions where the model has one): a marked row's served tag is not its own most likely. A tagger with word features also reads each word's own vector, if the word was in its training text, and its spelling." };
  const s = section("output", "6. The output", notes[o.kind]);
  if (o.kind === "masks" && !o.logits) { s.append($("p", { text: "The text has no [MASK]: write one to see predictions." })); return; }
  const controls = $("div", { class: "controls" });
  const positions = o.kind === "next_token" ? o.top_ids.shape[0] : o.logits.shape[0];
  const scrub = $("input", { type: "range", id: "step", min: 0, max: positions - 1, "aria-label": "position or step" });
  const temp = $("input", { type: "range", id: "temperature", min: 0, max: 2, step: 0.05, "aria-label": "temperature" });
  const topK = $("input", { type: "number", id: "top-k", min: 0, value: o.sampler ? o.sampler.top_k : 0, style: "width:5em" });
  const topP = $("input", { type: "number", id: "top-p", min: 0.01, max: 1, step: 0.01, value: o.sampler ? o.sampler.top_p : 1, style: "width:5em" });
  const scrubLabel = $("span");
  const tempLabel = $("span");
  if (positions > 1) controls.append($("label", {}, o.kind === "steps" ? "step " : "position ", scrub, scrubLabel));
  controls.append($("label", {}, "temperature ", temp, tempLabel));
  if (o.kind === "next_token" || o.kind === "steps" || o.kind === "masks") controls.append($("label", {}, "top-k ", topK), $("label", {}, "top-p ", topP));
  s.append(controls);
  const summary = $("p", { class: "note", id: "output-summary" });
  const bars = $("div", { class: "scroll", id: "distribution" });
  const extra = $("div", { class: "row" });
  s.append(summary, bars, extra);
  if (S.position < 0 || S.position >= positions) S.position = positions - 1;
  if (o.kind !== "next_token") S.position = S.step;
  scrub.value = o.kind === "steps" ? S.step : S.position;
  temp.value = S.temperature;
  scrub.addEventListener("input", () => update(o.kind === "next_token" ? { position: Number(scrub.value) } : { step: Number(scrub.value), position: Number(scrub.value), ...(o.kind === "steps" ? { group: crossGroup(), query: Number(scrub.value) } : {}) }));
  temp.addEventListener("input", () => update({ temperature: Number(temp.value) }));
  topK.addEventListener("input", () => update({ topK: Number(topK.value) }));
  topP.addEventListener("input", () => update({ topP: Number(topP.value) }));
  S.topK = Number(topK.value); S.topP = Number(topP.value);
  const labelOf = (i) => (o.labels ? o.labels[i] : vocab(i));
  views.push(() => {
    const index = o.kind === "next_token" ? S.position : S.step;
    scrub.value = index; temp.value = S.temperature; tempLabel.textContent = ` ${fmt(S.temperature, 2)}`;
    const here = describePosition(o, index);
    scrubLabel.textContent = ` ${index} ${here}`;
    const full = o.kind !== "next_token" || index >= o.full_from;
    let shown;
    if (full) {
      const logits = row(o.logits, o.kind === "next_token" ? index - o.full_from : index);
      const k = o.kind === "classes" || o.kind === "tags" ? 0 : S.topK, pp = o.kind === "classes" || o.kind === "tags" ? 1 : S.topP;
      const d = probabilities(logits, S.temperature, k, pp);
      const sum = d.p.reduce((a, b) => a + b, 0), keptMass = d.order.reduce((a, i) => a + (d.kept[i] ? d.p[i] : 0), 0);
      shown = d.order.slice(0, 15).map((i) => ({ id: i, token: labelOf(i), p: d.p[i], kept: d.kept[i] === 1, sampled: d.kept[i] ? d.p[i] / keptMass : 0 }));
      summary.textContent = `full distribution over ${logits.length.toLocaleString("en")} ${o.labels ? "labels" : "tokens"}: ` +
        `sum ${fmt(sum, 6)}; the sampler keeps ${d.kept.reduce((a, b) => a + b, 0).toLocaleString("en")} of them ` +
        `(${fmt(keptMass * 100, 2)}% of the mass). Stored as float16 logits: probabilities within ${o.error.toExponential(1)} of float32.`;
      window.explain.current = { sum, top: shown[0].p, token: shown[0].token, kept: keptMass,
        keptCount: d.kept.reduce((a, b) => a + b, 0), probabilities: shown.map((x) => x.p) };
    } else {
      shown = Array.from({ length: o.top_ids.shape[1] }, (_, r) => ({ id: at(o.top_ids, index, r), token: vocab(at(o.top_ids, index, r)), p: at(o.top_probabilities, index, r), kept: true, sampled: NaN }));
      summary.textContent = `the top ${shown.length} at temperature 1 (the page keeps every logit only from position ${o.full_from}, to stay small)`;
      window.explain.current = { sum: NaN, top: shown[0].p, token: shown[0].token, probabilities: shown.map((x) => x.p) };
    }
    bars.replaceChildren(table(["token", "probability", "", "after the sampler's cuts"],
      shown.map((x) => [x.token, x.p, "", x.kept ? (Number.isNaN(x.sampled) ? "" : x.sampled) : "cut"]), (i) => (shown[i].kept ? "" : "cut")));
    bars.querySelectorAll("tr").forEach((tr, i) => { if (i > 0) tr.children[2].append($("span", { class: `bar ${shown[i - 1].kept ? "" : "cut"}`, style: `width:${Math.round(shown[i - 1].p * 200)}px` })); });
    extra.replaceChildren(...outputExtras(o, index));
  });
}
const crossGroup = () => Math.max(0, T.attention.findIndex((g) => g.kind === "CrossAttention"));
function barTable(head, rows) {  // the last column also drawn as a bar
  const t = table([...head, ""], rows.map((r) => [...r, ""]));
  t.querySelectorAll("tr").forEach((tr, i) => {
    if (i > 0) tr.lastChild.append($("span", { class: "bar", style: `width:${Math.round(rows[i - 1].at(-1) * 200)}px` }));
  });
  return t;
}
function detokenized(pieces) {  // SentencePiece's word marks as spaces; other pieces spaced
  if (pieces.some((p) => p.startsWith("\u2581"))) return pieces.join("").replace(/\u2581/g, " ").trim();
  return pieces.join(" ");
}
function describePosition(o, index) {
  if (o.kind === "steps") return `chose "${vocab(o.chosen.data[index])}"`;
  if (o.kind === "next_token") return `after "${T.tokens[0].pieces[index]}"`;
  if (o.kind === "masks") return `[MASK] at position ${o.positions.data[index]}`;
  if (o.kind === "tags") return `piece "${T.tokens[0].pieces[index]}"`;
  return "";
}
function outputExtras(o, index) {
  const out = [];
  if (o.kind === "steps") {
    const cross = T.attention.find((g) => g.kind === "CrossAttention");
    const layers = cross.weights.shape[0], heads = cross.weights.shape[1], source = stream("source").pieces;
    const weights = source.map((_, j) => Array.from({ length: heads }, (_, h) => at(cross.weights, layers - 1, h, index, j)).reduce((a, b) => a + b, 0) / heads);
    out.push($("div", { class: "panel" }, $("h3", { text: `cross-attention at step ${index}, last layer, head average` }),
      barTable(["source", "weight"], source.map((p, j) => [p, weights[j]]))));
    out.push($("div", { class: "panel" }, $("h3", { text: "translation so far" }),
      $("p", { text: detokenized(Array.from(o.chosen.data.slice(0, index + 1), (i) => vocab(i))) })));
    if (o.reference) {
      const r = o.reference;
      const rows = Array.from(r.ids.data, (id, i) => [vocab(id), r.logprobs.data[i], vocab(r.best.data[i])]);
      out.push($("div", { class: "panel" }, $("h3", { text: r.leaves_at < 0 ? "the reference: greedy output never leaves it" : `the reference: greedy output first leaves it at step ${r.leaves_at}` }),
        $("div", { class: "scroll" }, table(["reference token", "log-probability", "model's choice"], rows, (i) => (i === r.leaves_at ? "selected" : "")))));
    }
  }
  if (o.kind === "tags") {
    const rows = o.words.map((word, w) => {
      const d = probabilities(row(o.logits, o.word_positions.data[w]), 1, 0, 1), tag = o.tags.data[w];
      const known = o.known ? [o.known[w] ? "yes" : "no: spelling only"] : [];
      return [word, o.labels[tag], d.p[tag], o.labels[d.order[0]], ...known];
    });
    const differs = (i) => (rows[i][1] !== rows[i][3] ? "selected" : "");
    const columns = ["word", "tag", "probability", "most likely on its own"];
    out.push($("div", { class: "panel" }, $("h3", { text: "tags per word, as served" }),
      table(o.known ? [...columns, "a training word"] : columns, rows, differs)));
  }
  return out;
}

// whitespace pieces made visible (a character model's " " and "\n" are tokens too)
const visible = (piece) => piece.replace(/ /g, "\u2423").replace(/\n/g, "\u21b5").replace(/\t/g, "\u21e5");
async function main() {
  T = await load();
  T.vocabulary = T.vocabulary.map(visible);
  for (const st of T.tokens) { st.pieces = st.pieces.map(visible); st.dropped = st.dropped.map(visible); }
  header();
  document.getElementById("loading").remove();
  tokens();
  embedding();
  attention();
  worked();
  residual();
  window.explain = { ready: false, state: S, current: null, update, trace: T, worked: computeWorked,
    matrixRow: () => row(T.attention[S.group].weights, S.layer, S.head, S.query) };
  output();
  readHash();
  update();
  window.explain.ready = true;
  window.explain.readyAt = performance.now();  // ms since the page's navigation started
  document.documentElement.dataset.ready = "true";
}
main().catch((error) => {
  document.documentElement.dataset.ready = "error";
  document.getElementById("main").prepend($("p", { class: "check failed", text: `The page could not be drawn: ${error}` }));
  console.error(error);
});
