// Plays a stream: schedules each piece of PCM on WebAudio (a sentence comes in a few pieces) and
// finds, for any moment of the AudioContext's clock, the face frame that belongs to the sound heard.
const LEAD_S = 0.12; // the first sentence starts this far ahead, so scheduling never lands in the past

export class Player {
  constructor() {
    this.ctx = null;
    this.pieces = []; // scheduled sound: {id, seq, ctxStart, duration}
    this.faces = []; // stretches of face frames on their request's clock: {id, start, duration, face}
    this.sources = new Map(); // id -> [AudioBufferSourceNode]
    this.clock0 = new Map(); // id -> AudioContext time of that request's t = 0
    this.scheduled = 0;
  }

  async ensureContext() {
    if (!this.ctx) this.ctx = new AudioContext();
    if (this.ctx.state !== 'running') await this.ctx.resume();
    return this.ctx;
  }

  // header: the server's "audio" message; data: its PCM16 little-endian binary message
  schedule(header, data, sampleRate) {
    const ctx = this.ctx;
    const pcm = new Int16Array(data);
    const buffer = ctx.createBuffer(1, pcm.length, sampleRate);
    const out = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) out[i] = pcm[i] / 32768;
    if (!this.clock0.has(header.id)) this.clock0.set(header.id, ctx.currentTime + LEAD_S - header.start_s);
    let when = this.clock0.get(header.id) + header.start_s;
    if (when < ctx.currentTime + 0.02) { // synthesis fell behind playback: slide this and later pieces
      const shift = ctx.currentTime + LEAD_S - when;
      this.clock0.set(header.id, this.clock0.get(header.id) + shift);
      when += shift;
    }
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);
    source.start(when);
    this.scheduled += 1;
    if (!this.sources.has(header.id)) this.sources.set(header.id, []);
    this.sources.get(header.id).push(source);
    this.pieces.push({ id: header.id, seq: header.seq, ctxStart: when, duration: pcm.length / sampleRate });
  }

  // m: the server's "face" message, whose frames start at its start_s on the request's clock
  attachFace(m) {
    this.faces.push({ id: m.id, start: m.start_s, duration: m.n_frames / m.fps, face: m });
  }

  stop(id) {
    for (const s of this.sources.get(id) || []) { try { s.stop(); } catch (e) { /* already ended */ } }
    this.sources.delete(id);
    this.pieces = this.pieces.filter((p) => p.id !== id);
    this.faces = this.faces.filter((p) => p.id !== id);
  }

  // The interpolated frame sounding now: {weights, head, gaze}, or null in silence.
  frameNow() {
    if (!this.ctx) return null;
    const t = this.ctx.currentTime;
    this.pieces = this.pieces.filter((p) => p.ctxStart + p.duration > t - 1);
    // a request's clock0 moves when its sound had to slide, so faces are placed through it each time
    const at = (x) => (this.clock0.has(x.id) ? this.clock0.get(x.id) + x.start : Infinity);
    this.faces = this.faces.filter((x) => at(x) + x.duration > t - 1 || !this.clock0.has(x.id));
    const p = this.faces.find((x) => t >= at(x) && t < at(x) + x.duration);
    if (!p) return null;
    const f = p.face;
    const pos = Math.min((t - at(p)) * f.fps, f.n_frames - 1);
    const i = Math.floor(pos), j = Math.min(i + 1, f.n_frames - 1), a = pos - i;
    const mix = (rowI, rowJ) => rowI.map((v, k) => v + a * (rowJ[k] - v));
    return { weights: mix(f.weights[i], f.weights[j]), head: mix(f.head_rotation[i], f.head_rotation[j]),
      gaze: mix(f.gaze[i], f.gaze[j]) };
  }

  get playing() {
    if (!this.ctx) return false;
    const t = this.ctx.currentTime;
    return this.pieces.some((p) => t >= p.ctxStart && t < p.ctxStart + p.duration);
  }
}
