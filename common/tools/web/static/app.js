// The page: one WebSocket per tab. The server sends every step's numbers and a few pictures a
// second; the page draws the curves itself (no library, nothing fetched from elsewhere).
"use strict";
const $ = (s) => document.querySelector(s);
const state = { token: null, content: null, styles: [], runs: {}, diff: [], latency: [] };
const ws = new WebSocket(`ws://${location.host}/ws`);
const TERMS = { content: "#2a7", style: "#c52", tv: "#77c", total: "#222" };

function say(text, error) {
  const p = document.createElement("p");
  p.textContent = text;
  if (error) p.className = "error";
  $("#messages").prepend(p);
}

function busy(running) {
  $("#start").disabled = running; $("#stop").disabled = !running;
  if (running) $("#resume").disabled = true;
}

async function upload(file) {
  const r = await fetch(`/upload/${state.token}`, { method: "POST", body: file,
    headers: { "X-File-Name": encodeURIComponent(file.name) } });
  const answer = r.ok ? await r.json() : { error: `${file.name}: the server refused it (${r.status})` };
  if (answer.error) { say(answer.error, true); return null; }
  return answer;
}

$("#content").addEventListener("change", async (e) => {
  state.content = e.target.files[0] ? await upload(e.target.files[0]) : null; showUploads();
});
$("#styles").addEventListener("change", async (e) => {
  state.styles = [];
  for (const f of e.target.files) { const u = await upload(f); if (u) state.styles.push(u); }
  showUploads();
});
function showUploads() {
  const one = (u) => `${u.name} (${u.size[1]}×${u.size[0]})`;
  $("#uploads").textContent = [state.content ? "photo: " + one(state.content) : "no photo",
    state.styles.length ? "paintings: " + state.styles.map(one).join(", ") : "no painting"].join("; ");
}

function choice() {
  const c = {}, form = $("#form");
  for (const el of form.querySelectorAll("[name]")) c[el.name] = el.value;
  c.content = state.content && state.content.id;
  c.styles = state.styles.map((u) => u.id);
  return c;
}

function reset(names) {
  state.runs = {}; state.diff = [];
  for (const name of ["torch", "mxnet"]) {
    const box = $(`#run-${name}`);
    box.hidden = !names.includes(name);
    box.querySelector(".stats").textContent = ""; box.querySelector(".files").textContent = "";
    box.querySelector("img").removeAttribute("src");
    delete box.dataset.ended; delete box.dataset.step;
    state.runs[name] = { records: [] };
    draw(box.querySelector("canvas"), []);
  }
  $("#diff").hidden = names.length < 2;
  $("#diff .stats").textContent = "";
  drawDiff();
}

$("#start").onclick = () => {
  const c = choice();
  reset(c.backend === "both" ? ["torch", "mxnet"] : [c.backend]);
  state.last = c;
  ws.send(JSON.stringify({ type: "start", choice: c })); busy(true);
};
$("#stop").onclick = () => ws.send(JSON.stringify({ type: "stop" }));
$("#resume").onclick = () => {
  for (const box of document.querySelectorAll(".run")) delete box.dataset.ended;
  ws.send(JSON.stringify({ type: "resume" })); busy(true); };

function scaled(values, height) {
  const logs = values.filter((v) => v > 0).map(Math.log10);
  const lo = Math.min(...logs), hi = Math.max(...logs);
  return (v) => v > 0 ? height - 8 - (Math.log10(v) - lo) / ((hi - lo) || 1) * (height - 16) : height;
}

function line(ctx, points, colour) {
  ctx.strokeStyle = colour; ctx.beginPath();
  points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  ctx.stroke();
}

function draw(canvas, records) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  if (!records.length) return;
  const n = Math.max(records.length, records[records.length - 1].planned || 1);
  const y = scaled(records.flatMap((r) => Object.keys(TERMS).map((k) => r[k])), h);
  for (const [term, colour] of Object.entries(TERMS))
    line(ctx, records.map((r, i) => [(i + 1) / n * (w - 4), y(r[term])]), colour);
  ctx.fillStyle = "#555"; ctx.font = "11px sans-serif";
  ctx.fillText("content  style  tv  total (log)", 4, 11);
}

function drawDiff() {
  const canvas = $("#diff canvas"), ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const d = state.diff;
  if (!d.length) return;
  const n = Math.max(d.length, 2), y = scaled(d.map((r) => r.relative), h);
  line(ctx, d.map((r, i) => [i / (n - 1) * (w - 4), y(r.relative)]), "#36c");
  const ps = d.filter((r) => r.psnr !== null).map((r) => r.psnr);
  const lo = Math.min(...ps, 100), hi = Math.max(...ps, 0);
  line(ctx, d.map((r, i) => [i / (n - 1) * (w - 4),
    r.psnr === null ? 4 : h - 8 - (r.psnr - lo) / ((hi - lo) || 1) * (h - 16)]), "#e80");
}

const fmt = (v) => (v === null || v === undefined ? "–" : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-2 ? v.toExponential(3) : v.toFixed(3));

ws.onmessage = (event) => {
  const m = JSON.parse(event.data);
  const box = m.run ? $(`#run-${m.run}`) : null;
  if (m.type === "hello") {
    state.token = m.token;
    $("#weights").innerHTML = "";
    for (const name of m.weights) $("#weights").append(new Option(name, name));
    $("#status").textContent = `ready (uploads up to ${m.max_upload_mb} MiB, ${m.max_pixels.toLocaleString()} pixels)`;
  } else if (m.type === "verdict") {
    say(`${m.run}: ${m.text}`);
  } else if (m.type === "started") {
    say(`${m.run}: ${m.framework} started, ${m.planned} steps`);
    box.title = m.describe;
  } else if (m.type === "step") {
    const run = state.runs[m.run];
    run.records.push(m);
    state.latency.push(Date.now() / 1000 - m.sent);  // from the step's end to the page
    if (m.image) box.querySelector("img").src = m.image;
    box.querySelector(".stats").textContent = `size ${m.size_index} (${m.height}×${m.width}) · step ${m.step} of ${m.planned} · ` +
      `loss ${fmt(m.total)} (content ${fmt(m.content)}, style ${fmt(m.style)}, tv ${fmt(m.tv)}) · ` +
      `${(1 / m.seconds).toFixed(2)} steps/s · ${m.memory_gib.toFixed(2)} GiB`;
    box.dataset.step = m.step;
    draw(box.querySelector("canvas"), run.records);
  } else if (m.type === "diff") {
    state.diff.push(m);
    $("#diff .stats").textContent = `step ${m.step}: relative loss difference ${fmt(m.relative)}, ` +
      `PSNR ${m.psnr === null ? "∞ (identical)" : m.psnr.toFixed(1) + " dB"}`;
    $("#diff").dataset.step = m.step;
    drawDiff();
  } else if (m.type === "ended") {
    box.querySelector("img").src = m.image;
    box.dataset.ended = m.kind;
    const files = box.querySelector(".files");
    files.textContent = "";
    for (const name of m.files) {
      const a = document.createElement("a");
      a.href = `/files/${state.token}/${m.run}/${name}`; a.textContent = name; a.download = `${m.run}-${name}`;
      files.append(a, " ");
    }
    say(`${m.run}: ${m.text}`);
    if (m.resumable) $("#resume").disabled = false;
    if (!document.querySelector(".run:not([hidden]):not(#diff):not([data-ended])")) busy(false);
  } else if (m.type === "error") {
    say(m.run ? `${m.run}: ${m.text}` : m.text, true);
    if (box) box.dataset.ended = "error";
    if (!m.run || !document.querySelector(".run:not([hidden]):not(#diff):not([data-ended])")) busy(false);
  }
};
ws.onclose = () => { $("#status").textContent = "disconnected: reload the page"; busy(false); $("#start").disabled = true; };
