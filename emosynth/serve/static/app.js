// The page: pickers, the valence-arousal pad, and one WebSocket to /v1/stream whose answers the
// Player schedules and the Avatar shows. window.emosynth exposes the state (the browser test reads it).
import { Avatar } from './avatar.js';
import { Player } from './player.js';

const $ = (id) => document.getElementById(id);
const state = { ready: false, requests: 0, pieces: 0, faces: 0, verdicts: [], ended: [], errors: [], playing: false };
const player = new Player();
let avatar = null;
let socket = null;
let names = [];          // blendshape order of the frames, from the "start" message
let sampleRate = 24000;
let pendingAudio = null; // an "audio" header waiting for its binary message
let current = null;      // id of the request being spoken
let va = { v: 0, a: 0 };

window.emosynth = { state, player, get avatar() { return avatar; } };

function spec() {
  if (document.querySelector('input[name=mode]:checked').value === 'va') {
    return `va:${va.v.toFixed(2)},${va.a.toFixed(2)}`;
  }
  const name = $('emotion').value;
  return name === 'neutral' ? 'neutral' : `${name}:${Number($('intensity').value).toFixed(2)}`;
}

function showSpec() {
  $('intensity-value').textContent = Number($('intensity').value).toFixed(2);
  $('va-value').textContent = `va:${va.v.toFixed(2)},${va.a.toFixed(2)}`;
  $('spec').textContent = spec();
}

function status(text) { $('status').textContent = text; }

async function fetchJson(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error ? body.error.message : `${url}: HTTP ${r.status}`);
  return body;
}

async function fillPickers() {
  const [voices, emotions] = await Promise.all([fetchJson('/v1/voices'), fetchJson('/v1/emotions')]);
  for (const v of voices.voices) $('voice').add(new Option(`${v.voice} (${v.gender})`, v.voice, v.default, v.default));
  const group = (label, rows) => {
    const g = document.createElement('optgroup');
    g.label = label;
    rows.forEach((r) => g.appendChild(new Option(r.emotion, r.emotion)));
    $('emotion').appendChild(g);
  };
  group('primaries', emotions.primaries);
  group('secondaries', emotions.secondaries);
  $('emotion').value = 'joy';
}

// -- the valence-arousal pad ---------------------------------------------------------------------
function drawPad() {
  const c = $('pad'), g = c.getContext('2d'), w = c.width, h = c.height;
  g.clearRect(0, 0, w, h);
  g.strokeStyle = '#4a505c';
  g.beginPath(); g.moveTo(w / 2, 0); g.lineTo(w / 2, h); g.moveTo(0, h / 2); g.lineTo(w, h / 2); g.stroke();
  g.fillStyle = '#a9a49d'; g.font = '11px sans-serif';
  g.fillText('excited', w - 46, 12); g.fillText('calm', w - 30, h - 4); g.fillText('tense', 3, 12); g.fillText('sad', 3, h - 4);
  g.fillStyle = '#e0a15e';
  g.beginPath(); g.arc((va.v + 1) / 2 * w, (1 - va.a) / 2 * h, 6, 0, 2 * Math.PI); g.fill();
}

function padEvents() {
  const pad = $('pad');
  const set = (e) => {
    const r = pad.getBoundingClientRect();
    const clamp = (x) => Math.max(-1, Math.min(1, x));
    va = { v: clamp(((e.clientX - r.left) / r.width) * 2 - 1), a: clamp(1 - ((e.clientY - r.top) / r.height) * 2) };
    drawPad(); showSpec();
  };
  pad.addEventListener('pointerdown', (e) => { pad.setPointerCapture(e.pointerId); set(e); });
  pad.addEventListener('pointermove', (e) => { if (e.buttons) set(e); });
}

// -- the stream ------------------------------------------------------------------------------------
function connect() {
  return new Promise((resolve, reject) => {
    if (socket && socket.readyState === WebSocket.OPEN) { resolve(socket); return; }
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/stream`);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => { socket = ws; resolve(ws); };
    ws.onerror = () => reject(new Error('the stream could not be opened'));
    ws.onclose = () => { socket = null; };
    ws.onmessage = (e) => onMessage(e.data);
  });
}

function onMessage(data) {
  if (data instanceof ArrayBuffer) {
    if (pendingAudio && pendingAudio.id === current) player.schedule(pendingAudio, data, sampleRate);
    pendingAudio = null;
    return;
  }
  const m = JSON.parse(data);
  if (m.type === 'start') {
    names = m.blendshapes || names; sampleRate = m.sample_rate_hz;
    status(`speaking (${m.voice}, ${m.emotion.text})`);
  } else if (m.type === 'audio') {
    pendingAudio = m;
  } else if (m.type === 'face') {
    state.faces += 1;
    player.attachFace(m);
  } else if (m.type === 'piece') {
    state.pieces += 1;
    $('caption').textContent = m.text;
  } else if (m.type === 'verdict') {
    state.verdicts.push(m);
    const s = m.scores;
    const li = document.createElement('li');
    li.textContent = s ? `heard ${s.label} ${s.confidence.toFixed(2)} (valence ${s.valence.toFixed(2)}, arousal ${s.arousal.toFixed(2)})` : 'too short to judge';
    $('verdicts').appendChild(li);
  } else if (m.type === 'end') {
    state.ended.push(m);
    if (m.id === current) { $('stop').disabled = true; $('speak').disabled = false; }
    status(m.status === 'done' ? `done: ${m.duration_s.toFixed(2)} s of speech, first audio after ${Number(m.first_audio_s).toFixed(2)} s`
      : `${m.status}${m.error ? ': ' + m.error.message : ''}`);
  } else if (m.type === 'error') {
    state.errors.push(m);
    status(`refused: ${m.error.message}`);
    if (m.id === current) { $('stop').disabled = true; $('speak').disabled = false; }
  }
}

async function speak() {
  const ws = await connect();
  await player.ensureContext(); // inside the click, so the browser lets the audio play
  if (current) { player.stop(current); ws.send(JSON.stringify({ type: 'cancel', id: current })); }
  state.requests += 1;
  current = `page-${state.requests}`;
  $('verdicts').textContent = '';
  $('speak').disabled = true; $('stop').disabled = false;
  ws.send(JSON.stringify({ type: 'speak', id: current, text: $('text').value, voice: $('voice').value, emotion: spec() }));
  status('synthesising…');
}

function stop() {
  if (!current || !socket) return;
  socket.send(JSON.stringify({ type: 'cancel', id: current }));
  player.stop(current);
}

function loop() {
  const frame = player.frameNow();
  state.playing = frame !== null;
  if (frame) avatar.pose(names, frame.weights, frame.head, frame.gaze);
  else avatar.relax(0.85);
  avatar.render();
  requestAnimationFrame(loop);
}

async function main() {
  document.querySelectorAll('input[name=mode]').forEach((r) => r.addEventListener('change', () => {
    const isVa = document.querySelector('input[name=mode]:checked').value === 'va';
    $('named').hidden = isVa;
    $('va').hidden = !isVa;
    showSpec();
  }));
  $('intensity').addEventListener('input', showSpec);
  $('emotion').addEventListener('change', showSpec);
  $('speak').addEventListener('click', () => speak().catch((e) => { state.errors.push(String(e)); status(String(e)); }));
  $('stop').addEventListener('click', stop);
  padEvents(); drawPad();
  try {
    avatar = await new Avatar($('avatar')).load('/avatar.glb');
    await fillPickers();
  } catch (e) {
    state.errors.push(String(e));
    status(`could not load: ${e.message}`);
    return;
  }
  showSpec();
  state.ready = true;
  status('ready');
  requestAnimationFrame(loop);
}

main();
