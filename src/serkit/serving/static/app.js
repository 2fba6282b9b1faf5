// The page talks to the same API as everyone else: POST predict, GET models.
"use strict";

const PALETTE = ["#d1495b", "#edae49", "#00798c", "#30638e", "#8d6a9f", "#6a994e", "#a0522d", "#7a7a7a"];
const SVG = "http://www.w3.org/2000/svg";
let classes = [];

const $ = (id) => document.getElementById(id);
const colour = (label) => PALETTE[Math.max(0, classes.indexOf(label)) % PALETTE.length];

function setState(state, message) {
  document.body.dataset.state = state;
  $("status").textContent = message;
}

async function predict(file) {
  setState("busy", `Analysing ${file.name}…`);
  $("result").hidden = true;
  const form = new FormData();
  form.append("file", file);
  try {
    const response = await fetch("predict", { method: "POST", body: form });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
    show(answer);
    setState("done", "");
  } catch (error) {
    setState("error", String(error.message || error));
  }
}

function show(answer) {
  $("filename").textContent = answer.path;
  // a classifier's label, or a regression's mean value per target
  $("label").textContent = answer.label ?? Object.entries(answer.values || {})
    .map(([name, value]) => `${name} ${value.toFixed(2)}`).join(" · ");
  $("duration").textContent = `${answer.duration.toFixed(2)} s` + (answer.short_speech_only
    ? " · every stretch of speech is under a second: this label rests on speech too short to trust" : "");
  fillTable(answer);
  drawTimeline(answer);
  drawTrace(answer);
  $("result").hidden = false;
}

// A classifier's probabilities, ranked, with bars; or a regression's values on [-1, 1], bars from the middle.
function fillTable(answer) {
  const table = $("probabilities");
  const body = table.tBodies[0];
  body.replaceChildren();
  const values = answer.probabilities ? null : answer.values;
  table.hidden = !(answer.probabilities || values);
  if (table.hidden) return;
  const heading = table.tHead.rows[0].cells;
  heading[0].textContent = values ? "target" : "class";
  heading[1].textContent = values ? "mean" : "probability";
  const rows = values ? Object.entries(values) : Object.entries(answer.probabilities).sort((a, b) => b[1] - a[1]);
  for (const [label, p] of rows) {
    const row = body.insertRow();
    row.dataset.label = label;
    if (label === answer.label) row.className = "top";
    row.insertCell().textContent = label;
    row.insertCell().textContent = values ? p.toFixed(3) : `${(100 * p).toFixed(1)} %`;
    const bar = document.createElement("span");
    const share = values ? Math.min(1, Math.abs(p)) / 2 : p;
    bar.style.width = `${(100 * share).toFixed(1)}%`;
    if (values) bar.style.marginLeft = `${(100 * (p < 0 ? 0.5 - share : 0.5)).toFixed(1)}%`;
    bar.style.background = colour(label);
    const cell = row.insertCell();
    cell.className = "bar";
    cell.append(bar);
  }
}

function svg(name, attributes, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  parent.append(node);
  return node;
}

// One column per segment, spanning its time, stacked by class probability.
function drawTimeline(answer) {
  const chart = $("timeline");
  chart.replaceChildren();
  // a classifier's segments (a regression's segment values have no columns to stack)
  const segments = (answer.segments || []).filter((segment) => segment.probabilities);
  $("timeline-figure").hidden = segments.length === 0;
  if (segments.length === 0) return;
  const width = 720, height = 170, left = 34, right = 10, top = 22, bottom = 24;
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const duration = Math.max(answer.duration, ...segments.map((s) => s.end));
  const x = (t) => left + (t / duration) * (width - left - right);
  const plot = height - top - bottom;
  svg("rect", { x: left, y: top, width: width - left - right, height: plot, fill: "#eef0f3" }, chart);
  for (const segment of segments) {
    // a segment too short to trust is drawn faded: it does not count in the file's label
    const group = svg("g", { class: segment.too_short ? "segment too-short" : "segment",
                             "data-label": segment.label }, chart);
    svg("title", {}, group).textContent = `${segment.start.toFixed(2)}–${segment.end.toFixed(2)} s: ` +
      (segment.too_short ? `${segment.label} (too short to trust)` : segment.label);
    let y = top;
    for (const label of classes.length ? classes : Object.keys(segment.probabilities)) {
      const h = (segment.probabilities[label] || 0) * plot;
      svg("rect", { x: x(segment.start), y, width: Math.max(1, x(segment.end) - x(segment.start)),
                    height: h, fill: colour(label) }, group);
      y += h;
    }
    const mark = svg("text", { x: (x(segment.start) + x(segment.end)) / 2, y: top - 6,
                               "text-anchor": "middle" }, group);
    mark.textContent = segment.too_short ? `(${segment.label})` : segment.label;
  }
  timeAxis(chart, duration, x, height - 6);
  legend($("legend"), classes);
}

// Seconds along the bottom of a chart: about ten round steps.
function timeAxis(chart, duration, x, y) {
  const step = [1, 2, 5, 10, 20, 30, 60, 120, 300].find((s) => duration / s <= 10) || 600;
  for (let t = 0; t <= duration + 1e-9; t += step) {
    svg("text", { x: x(t), y, "text-anchor": "middle" }, chart).textContent = `${t} s`;
  }
}

function legend(list, labels) {
  list.replaceChildren(...labels.map((label) => {
    const item = document.createElement("li");
    item.textContent = label;
    item.style.setProperty("--colour", colour(label));
    return item;
  }));
}

// A continuous model's trace: each target's value per frame against time, y on [-1, 1].
function drawTrace(answer) {
  const chart = $("trace");
  chart.replaceChildren();
  const trace = answer.values && answer.frame_rate ? answer.trace : null;
  $("trace-figure").hidden = !trace;
  if (!trace) return;
  const names = Object.keys(trace);
  const frames = Math.max(...names.map((name) => trace[name].length));
  const duration = Math.max(answer.duration, frames / answer.frame_rate);
  const width = 720, height = 200, left = 34, right = 10, top = 10, bottom = 24;
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const plot = height - top - bottom;
  const x = (t) => left + (t / duration) * (width - left - right);
  const y = (v) => top + ((1 - Math.max(-1, Math.min(1, v))) / 2) * plot;  // cut off at the edges
  svg("rect", { x: left, y: top, width: width - left - right, height: plot, fill: "#eef0f3" }, chart);
  for (const v of [-1, -0.5, 0, 0.5, 1]) {
    svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: v === 0 ? "#9aa5b1" : "#dde1e6" }, chart);
    svg("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end" }, chart).textContent = String(v);
  }
  for (const name of names) {
    const points = trace[name].map((v, i) => `${x(i / answer.frame_rate).toFixed(1)},${y(v).toFixed(1)}`);
    const line = svg("polyline", { class: "trace-line", "data-target": name, points: points.join(" "),
                                   fill: "none", stroke: colour(name), "stroke-width": 1.2 }, chart);
    svg("title", {}, line).textContent = `${name}, ${answer.frame_rate} values a second`;
  }
  timeAxis(chart, duration, x, height - 6);
  legend($("trace-legend"), names);
}

async function describeModel() {
  try {
    const response = await fetch("models");
    const model = await response.json();
    classes = model.labels;
    const card = model.card || {};
    $("model").textContent = `model: ${[card.name, card.model, card.features].filter(Boolean).join(" · ")}` +
      ` (classes: ${classes.join(", ")})`;
  } catch (error) {
    $("model").textContent = "model description unavailable";
  }
}

function wire() {
  const drop = $("drop");
  $("file").addEventListener("change", (event) => {
    if (event.target.files.length) predict(event.target.files[0]);
  });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) predict(event.dataTransfer.files[0]);
  });
  describeModel();
}

wire();
