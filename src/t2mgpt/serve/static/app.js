// t2mgpt web app: prompt form, 3D skeleton viewer (three.js), playback and downloads.
// Everything is served by `t2mgpt serve`; nothing loads from other hosts.
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';

const $ = (id) => document.getElementById(id);

// Read by tests and handy in the console: window.__t2mgpt.state.frame advances while playing.
const state = {
  ready: false, webgl: false, generating: false, error: null,
  text: '', samples: 0, sample: 0, sideBySide: true,
  playing: false, loop: true, speed: 1, time: 0, frame: 0, numFrames: 0, fps: 20,
  framesRendered: 0, character: false, charactersLoaded: 0,
  streaming: false,  // frames of the current request are still arriving (/api/stream)
  firstFrameMs: null,  // click to the first drawn frame of the last request (benchmarks/bench_stream.py)
};
// Frames are streamed as they are decoded (POST /api/stream); ?stream=0 waits for the whole motion.
const STREAM = new URLSearchParams(location.search).get('stream') !== '0';
let clickedAt = 0, awaitingFirstFrame = false, cameraMoved = false;
window.__t2mgpt = { state, info: null, response: null };

const TRUNK = '#3a4256';
const SPACING_MIN = 1.3;
let info = null;
let response = null;

// ============================================================================ viewer

class Figure {
  /** One skeleton: joints (T, J, 3) in metres, y up; `skel` from /api/info. */
  constructor(sample, skel, geo) {
    this.sample = sample;
    const J = skel.parents.length;
    this.T = 0; this.J = J;
    this.pos = new Float32Array(0);
    this.minY = null;  // the floor: the lowest joint of the first frames received
    this.fps = sample.fps;
    this.parents = skel.parents;
    this.group = new THREE.Group();
    this.materials = [];
    // Two instanced meshes per figure (bones, joints): a few draw calls instead of ~45, which
    // keeps software renderers (headless browsers, VMs) at a usable frame rate.
    const colors = skel.colors.map((c, j) => (skel.sides[j] === 'center' ? TRUNK : c));
    const head = skel.head;
    this.boneList = [];
    for (let j = 0; j < J; j++) {
      if (this.parents[j] >= 0) this.boneList.push({ j, p: this.parents[j], r: skel.sides[j] === 'center' ? 0.032 : 0.026 });
    }
    this.jointRadius = [...Array(J).keys()].map((j) => (j === head ? 0.085 : 0.034));
    const instanced = (geometry, n, colorOf) => {
      const material = new THREE.MeshLambertMaterial({ color: 0xffffff });
      this.materials.push(material);
      const mesh = new THREE.InstancedMesh(geometry, material, n);
      mesh.instanceMatrix.setUsage(THREE.DynamicDrawUsage);
      for (let i = 0; i < n; i++) mesh.setColorAt(i, new THREE.Color(colorOf(i)));
      mesh.castShadow = true;
      mesh.frustumCulled = false;  // instances move every frame; the figure is always in view
      this.group.add(mesh);
      return mesh;
    };
    this.boneMesh = instanced(geo.cylinder, this.boneList.length, (i) => colors[this.boneList[i].j]);
    this.jointMesh = instanced(geo.sphere, J, (j) => (j === head ? TRUNK : '#f8fafc'));
    // root path on the floor: all of it faint, the part already walked darker
    const line = (color) => new THREE.Line(new THREE.BufferGeometry(), new THREE.LineBasicMaterial({ color, transparent: true }));
    this.pathAll = line(0xb6c0cf);
    this.pathDone = line(0x4f46e5);
    this.materials.push(this.pathAll.material, this.pathDone.material);
    this.group.add(this.pathAll, this.pathDone);
    this.cur = new Float32Array(J * 3);
    this._a = new THREE.Vector3(); this._b = new THREE.Vector3(); this._d = new THREE.Vector3();
    this._m = new THREE.Matrix4(); this._q = new THREE.Quaternion(); this._s = new THREE.Vector3();
    this.append(sample.joints);
  }

  /** Add frames (n, J, 3) at the end: a streamed motion grows while it plays. */
  append(joints) {
    const J = this.J, T0 = this.T, T = T0 + joints.length;
    if (!joints.length) return;
    if (this.minY === null) {
      this.minY = Infinity;
      for (const frame of joints) for (const p of frame) this.minY = Math.min(this.minY, p[1]);
    }
    const pos = new Float32Array(T * J * 3);
    pos.set(this.pos);
    joints.forEach((frame, i) => frame.forEach((p, j) => {
      const k = ((T0 + i) * J + j) * 3;
      pos[k] = p[0]; pos[k + 1] = p[1] - this.minY; pos[k + 2] = p[2];
    }));
    this.pos = pos; this.T = T;
    const path = new Float32Array(T * 3);
    for (let t = 0; t < T; t++) {
      path[t * 3] = pos[t * J * 3]; path[t * 3 + 1] = 0.003; path[t * 3 + 2] = pos[t * J * 3 + 2];
    }
    for (const l of [this.pathAll, this.pathDone]) l.geometry.setAttribute('position', new THREE.BufferAttribute(path, 3));
  }

  /** Pose at a fractional frame (linear interpolation between frames). */
  setFrame(f) {
    const T = this.T, J = this.J;
    f = Math.min(Math.max(f, 0), T - 1);
    const i0 = Math.floor(f), i1 = Math.min(i0 + 1, T - 1), a = f - i0;
    for (let k = 0; k < J * 3; k++) this.cur[k] = this.pos[i0 * J * 3 + k] * (1 - a) + this.pos[i1 * J * 3 + k] * a;
    const m = this._m, q = this._q, sc = this._s, up = Figure.UP;
    for (let j = 0; j < J; j++) {
      this._a.fromArray(this.cur, j * 3);
      m.compose(this._a, Figure.NO_ROTATION, sc.setScalar(this.jointRadius[j]));
      this.jointMesh.setMatrixAt(j, m);
    }
    this.boneList.forEach(({ j, p, r }, i) => {
      this._a.fromArray(this.cur, p * 3); this._b.fromArray(this.cur, j * 3);
      this._d.subVectors(this._b, this._a);
      const len = this._d.length();
      if (len > 1e-6) q.setFromUnitVectors(up, this._d.divideScalar(len));
      m.compose(this._a.add(this._b).multiplyScalar(0.5), q, sc.set(r, Math.max(len, 1e-4), r));
      this.boneMesh.setMatrixAt(i, m);
    });
    this.jointMesh.instanceMatrix.needsUpdate = true;
    this.boneMesh.instanceMatrix.needsUpdate = true;
    this.pathDone.geometry.setDrawRange(0, i0 + 1);
    if (this.mixer) this.mixer.setTime(f / this.fps);  // the GLB keys frame t at t / fps
  }

  /** The skinned character of this sample's GLB (same motion, same joints) in place of the sticks. */
  setCharacter(gltf) {
    this.character = gltf.scene;
    this.character.position.y = -this.minY;  // the floor shift of the stick figure
    this.character.traverse((o) => {
      if (o.isMesh) { o.castShadow = true; o.frustumCulled = false; this.materials.push(o.material); }
    });
    this.mixer = new THREE.AnimationMixer(this.character);
    this.mixer.clipAction(gltf.animations[0]).play();
    this.group.add(this.character);
  }

  showCharacter(on) {
    on = on && !!this.character;
    if (this.character) this.character.visible = on;
    this.boneMesh.visible = !on;
    this.jointMesh.visible = !on;
  }

  setDimmed(dim) {
    for (const m of this.materials) {
      m.transparent = true;
      m.opacity = dim ? 0.42 : 1;
      m.depthWrite = !dim;
    }
    this.pathDone.visible = !dim;
  }

  /** Bounding box of the whole motion (all frames), in world space. */
  box() {
    const b = new THREE.Box3(), v = new THREE.Vector3();
    for (let k = 0; k < this.pos.length; k += 3) b.expandByPoint(v.set(this.pos[k], this.pos[k + 1], this.pos[k + 2]));
    b.translate(this.group.position);
    return b;
  }

  dispose() {
    for (const m of this.materials) m.dispose();
    this.boneMesh.dispose();
    this.jointMesh.dispose();
    this.pathAll.geometry.dispose();
    this.pathDone.geometry.dispose();
  }
}
Figure.UP = new THREE.Vector3(0, 1, 0);
Figure.NO_ROTATION = new THREE.Quaternion();

/** Grid lines every `step` metres out to `half` metres, darker every metre, as 1 m segments. */
function floorGrid(half, step) {
  const minor = [], major = [];
  for (let k = -half; k <= half + 1e-9; k += step) {
    const out = Math.abs(k - Math.round(k)) < 1e-6 ? major : minor;
    for (let a = -half; a < half; a += 1) {
      out.push(k, 0, a, k, 0, a + 1, a, 0, k, a + 1, 0, k);
    }
  }
  const group = new THREE.Group();
  for (const [points, color] of [[minor, 0xd3d9e2], [major, 0xb9c2cf]]) {
    const geo = new THREE.BufferGeometry();
    geo.setAttribute('position', new THREE.Float32BufferAttribute(points, 3));
    group.add(new THREE.LineSegments(geo, new THREE.LineBasicMaterial({ color })));
  }
  group.position.y = 0.001;
  return group;
}

class Viewer {
  constructor(canvas, container) {
    this.container = container;
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, alpha: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.renderer.shadowMap.enabled = true;
    this.renderer.shadowMap.type = THREE.PCFShadowMap;
    this.scene = new THREE.Scene();
    this.scene.fog = new THREE.Fog(0xf3f6fa, 10, 28);
    this.camera = new THREE.PerspectiveCamera(35, 1, 0.05, 200);
    this.camera.position.set(2.2, 1.6, 4.2);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = true;
    this.controls.dampingFactor = 0.12;
    this.controls.maxPolarAngle = Math.PI * 0.495;
    this.controls.minDistance = 0.6;
    this.controls.maxDistance = 40;
    this.controls.target.set(0, 0.9, 0);
    this.controls.addEventListener('change', () => { this.dirty = true; });

    this.scene.add(new THREE.HemisphereLight(0xffffff, 0xd5dbe5, 2.2));
    const sun = new THREE.DirectionalLight(0xffffff, 2.4);
    sun.position.set(-1.5, 9, 2.5);
    sun.castShadow = true;
    sun.shadow.mapSize.set(1024, 1024);
    sun.shadow.bias = -0.0005;
    sun.shadow.normalBias = 0.01;
    this.sun = sun;
    this.scene.add(sun, sun.target);

    // Floor: a grid of short line segments (long GL lines crossing the camera plane are dropped
    // by some software renderers; a full-screen textured plane is slow there) under a shadow
    // catcher that covers the motions only.
    this.scene.add(floorGrid(16, 0.5));
    this.floor = new THREE.Mesh(new THREE.PlaneGeometry(1, 1), new THREE.ShadowMaterial({ opacity: 0.18, fog: false }));
    this.floor.rotation.x = -Math.PI / 2;
    this.floor.position.y = 0.0005;
    this.floor.receiveShadow = true;
    this.scene.add(this.floor);

    this.geo = {
      cylinder: new THREE.CylinderGeometry(1, 1, 1, 12, 1, true),  // open: the joint spheres cap the ends
      sphere: new THREE.SphereGeometry(1, 16, 10),
    };
    this.figures = [];
    this.dirty = true;
    new ResizeObserver(() => this.resize()).observe(container);
    this.resize();
  }

  resize() {
    const w = Math.max(1, this.container.clientWidth), h = Math.max(1, this.container.clientHeight);
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.dirty = true;
  }

  setFigures(samples, skel) {
    for (const f of this.figures) { this.scene.remove(f.group); f.dispose(); }
    this.figures = samples.map((s) => new Figure(s, skel, this.geo));
    for (const f of this.figures) this.scene.add(f.group);
    this.dirty = true;
  }

  /** Side by side along x (sample 1 on the left), or only the selected one at the origin. */
  layout(selected, sideBySide) {
    const shown = sideBySide ? this.figures : [this.figures[selected]];
    let width = 0;
    for (const f of shown) { const b = f.box(); width = Math.max(width, b.max.x - b.min.x); }
    const spacing = Math.max(SPACING_MIN, width + 0.7);
    this.figures.forEach((f, i) => {
      const k = shown.indexOf(f);
      f.group.visible = k >= 0;
      f.group.position.x = k >= 0 ? (k - (shown.length - 1) / 2) * spacing : 0;
      f.setDimmed(sideBySide && shown.length > 1 && i !== selected);
    });
    this.dirty = true;
  }

  /** Point the camera at the visible motions (whole animation) from the front-right. */
  frameAll() {
    const box = new THREE.Box3();
    for (const f of this.figures) if (f.group.visible) box.union(f.box());
    if (box.isEmpty()) return;
    box.min.y = 0;
    const center = box.getCenter(new THREE.Vector3());
    const size = box.getSize(new THREE.Vector3());
    const radius = Math.max(0.5 * size.length(), 0.9);
    const several = this.figures.filter((f) => f.group.visible).length > 1;  // keep them of similar size
    const az = THREE.MathUtils.degToRad(several ? 14 : 28), el = THREE.MathUtils.degToRad(13);
    // distance at which the box (seen from azimuth az) fits the view, with a margin
    const tanV = Math.tan(THREE.MathUtils.degToRad(this.camera.fov) / 2), tanH = tanV * this.camera.aspect;
    const across = size.x * Math.cos(az) + size.z * Math.sin(az), deep = size.x * Math.sin(az) + size.z * Math.cos(az);
    const margin = 0.18;
    const dist = Math.max((size.y / 2 + margin) / tanV, (across / 2 + margin) / tanH) + deep / 2;
    const target = new THREE.Vector3(center.x, Math.max(center.y, 0.5), center.z);
    this.controls.target.copy(target);
    this.camera.position.set(
      target.x + dist * Math.sin(az) * Math.cos(el), target.y + dist * Math.sin(el), target.z + dist * Math.cos(az) * Math.cos(el));
    this.camera.near = Math.max(0.02, dist / 200);
    this.camera.far = dist * 20 + 50;
    this.camera.updateProjectionMatrix();
    this.scene.fog.near = dist * 1.6; this.scene.fog.far = dist * 4.5 + 8;
    // shadow camera around the motions
    const r = radius + 1.5;
    Object.assign(this.sun.shadow.camera, { left: -r, right: r, top: r, bottom: -r, near: 0.1, far: 30 });
    this.sun.shadow.camera.updateProjectionMatrix();
    this.floor.scale.set(2 * r, 2 * r, 1);
    this.floor.position.set(center.x, 0.0005, center.z);
    this.sun.target.position.copy(center).setY(0);
    this.sun.position.copy(center).add(new THREE.Vector3(-1.5, 9, 2.5));
    this.controls.update();
    this.dirty = true;
  }

  setFrame(frame) { for (const f of this.figures) f.setFrame(frame); this.dirty = true; }

  /** Characters (GLB downloads) on or off; loads the missing ones first. */
  async showCharacters(on, frame) {
    const figures = this.figures;
    if (on) {
      const loader = new GLTFLoader();
      await Promise.all(figures.filter((f) => !f.character).map(async (f) => {
        f.setCharacter(await loader.loadAsync(f.sample.downloads.glb));
        state.charactersLoaded++;
      }));
    }
    if (figures !== this.figures) return;  // a new response arrived meanwhile
    for (const f of figures) { f.showCharacter(on); f.setFrame(frame); }
    this.dirty = true;
  }

  render() {
    const moved = this.controls.update();
    if (!moved && !this.dirty) return false;
    this.renderer.render(this.scene, this.camera);
    this.dirty = false;
    return true;
  }
}

// ============================================================================ page

const ui = {
  form: $('form'), prompt: $('prompt'), counter: $('counter'), examples: $('examples'),
  seconds: $('seconds'), secondsValue: $('seconds-value'), auto: $('auto-length'), samples: $('samples'),
  seed: $('seed'), dice: $('dice'), temperature: $('temperature'), temperatureValue: $('temperature-value'),
  guidance: $('guidance'), guidanceValue: $('guidance-value'),
  topK: $('top-k'), topP: $('top-p'), generate: $('generate'), error: $('error'), warning: $('warning'), modelCard: $('model-card'),
  modelName: $('model-name'), dot: $('status-dot'), tabs: $('tabs'), sideToggle: $('side-toggle'),
  sideBySide: $('side-by-side'), characterToggle: $('character-toggle'), character: $('character'), viewport: $('viewport'), caption: $('caption'), empty: $('empty'), busy: $('busy'),
  nogl: $('nogl'), play: $('play'), time: $('time'), scrub: $('scrub'), speed: $('speed'), loop: $('loop'),
  reframe: $('reframe'), downloads: [...document.querySelectorAll('.dl')],
  segments: $('segments'), addSegment: $('add-segment'), compose: $('compose'), continue: $('continue'), marks: $('marks'),
};
let numSamples = 1;
let viewer = null;
try {
  viewer = new Viewer($('canvas'), ui.viewport);
  window.__t2mgpt.viewer = viewer;
  viewer.controls.addEventListener('start', () => { cameraMoved = true; });
  state.webgl = true;
} catch (e) {
  ui.nogl.hidden = false;
}

function showError(msg) {
  state.error = msg || null;
  ui.error.textContent = msg || '';
  ui.error.hidden = !msg;
  if (msg) requestAnimationFrame(() => ui.error.scrollIntoView({ block: 'nearest' }));
}

function setBusy(busy) {
  state.generating = busy;
  ui.generate.disabled = busy;
  ui.compose.disabled = busy;
  ui.continue.disabled = busy;
  ui.generate.classList.toggle('busy', busy);
  ui.generate.querySelector('.btn-label').textContent = busy ? 'Generating…' : 'Generate';
  ui.busy.hidden = !busy;
  ui.dot.className = 'dot ' + (busy ? 'busy' : 'ok');
}

const fmt = (x, d = 1) => Number(x).toFixed(d);

function updateSecondsLabel() {
  ui.secondsValue.textContent = ui.auto.checked ? 'auto' : `${fmt(ui.seconds.value)} s`;
  ui.seconds.disabled = ui.auto.checked;
}

function buildSamplesControl(max) {
  ui.samples.textContent = '';
  for (let n = 1; n <= Math.min(4, max); n++) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = String(n);
    b.setAttribute('role', 'radio');
    b.setAttribute('aria-checked', String(n === numSamples));
    b.addEventListener('click', () => {
      numSamples = n;
      for (const c of ui.samples.children) c.setAttribute('aria-checked', String(c === b));
    });
    ui.samples.appendChild(b);
  }
}

async function loadInfo() {
  try {
    const res = await fetch('/api/info');
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    info = await res.json();
  } catch (e) {
    showError('Cannot reach the t2mgpt server. Is `t2mgpt serve` still running?');
    ui.dot.className = 'dot down';
    return;
  }
  window.__t2mgpt.info = info;
  const L = info.limits;
  ui.seconds.min = String(L.min_seconds);
  ui.seconds.max = String(L.max_seconds);
  ui.seconds.step = String(L.seconds_step);
  ui.seconds.value = String(Math.min(Math.max(4, L.min_seconds), L.max_seconds));
  ui.prompt.maxLength = L.max_text_length;
  ui.seed.max = String(L.max_seed);
  ui.guidance.max = String(Math.max(Number(ui.guidance.max), info.model.guidance_scale));
  ui.guidance.value = String(info.model.guidance_scale);  // the model's own scale
  ui.guidanceValue.textContent = fmt(ui.guidance.value, 1);
  updateSecondsLabel();
  updateCounter();
  buildSamplesControl(L.max_samples);
  ui.examples.textContent = '';
  for (const text of info.examples) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'example';
    b.textContent = text.replace(/^(a person|a man|a woman|someone|the person) /i, '');
    b.title = text;
    b.addEventListener('click', () => { ui.prompt.value = text; updateCounter(); ui.prompt.focus(); });
    ui.examples.appendChild(b);
  }
  const m = info.model;
  ui.modelCard.innerHTML = '';
  const line = (label, value) => {
    const div = document.createElement('div');
    const b = document.createElement('b');
    b.textContent = `${label}: `;
    div.append(b, document.createTextNode(value));
    ui.modelCard.appendChild(div);
  };
  line('Model', `${m.name} (${m.dataset}, ${m.fps} fps, ${m.text_encoder} text encoder)`);
  if (m.description) line('About', m.description);
  if (m.trained_on && m.trained_on !== 'unknown') line('Trained on', m.trained_on);
  if (m.license && m.license !== 'unknown') line('License', m.license);
  await refreshHealth();
  state.ready = true;
}

async function refreshHealth() {
  try {
    const res = await fetch('/api/health');
    const h = await res.json();
    ui.modelName.textContent = `${h.model} · ${h.device}`;
    if (!state.generating) ui.dot.className = 'dot ok';
  } catch (e) {
    ui.modelName.textContent = 'server unreachable';
    ui.dot.className = 'dot down';
  }
}

function updateCounter() {
  const n = ui.prompt.value.length, max = info ? info.limits.max_text_length : 300;
  ui.counter.textContent = `${n} / ${max}`;
  ui.counter.classList.toggle('over', n > max);
}

async function errorMessage(res) {
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (res.status === 429) {
    const wait = res.headers.get('Retry-After');
    return `The server is busy with other requests. Try again${wait ? ` in about ${wait} s` : ' shortly'}.`;
  }
  if (body && body.message) return body.message;
  if (body && typeof body.detail === 'string') return body.detail;
  if (body && Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join('; ');
  return `The server answered ${res.status} ${res.statusText}.`;
}

function readRequest(samplingOnly = false) {
  const text = ui.prompt.value.trim();
  if (!text && !samplingOnly) throw new Error('Describe a motion first, e.g. “a person jumps forward”.');
  const body = { text, num_samples: numSamples };
  body.seconds = ui.auto.checked ? null : Number(ui.seconds.value);
  if (ui.seed.value.trim() !== '') {
    const seed = Number(ui.seed.value);
    if (!Number.isInteger(seed) || seed < 0) throw new Error('The seed must be a whole number ≥ 0 (or empty for a random one).');
    body.seed = seed;
  }
  body.temperature = Number(ui.temperature.value);
  body.guidance_scale = Number(ui.guidance.value);
  if (ui.topK.value.trim() !== '') body.top_k = Number(ui.topK.value);
  if (ui.topP.value.trim() !== '') body.top_p = Number(ui.topP.value);
  return body;
}

async function generate() {
  if (state.generating) return;
  let body;
  try { body = readRequest(); } catch (e) { showError(e.message); ui.prompt.focus(); return; }
  await post(STREAM ? '/api/stream' : '/api/generate', body);
}

// ---------------------------------------------------------------------------- authoring

const timeline = [{ text: 'a person walks forward', seconds: 4 }, { text: 'a person sits down', seconds: 3 }];

function samplingFields() {  // seed, temperature, top-k, top-p of the form (as readRequest reads them)
  const body = readRequest(true);
  delete body.text; delete body.num_samples; delete body.seconds;
  return body;
}

function renderTimeline() {
  ui.segments.textContent = '';
  const max = info ? info.limits.max_segments : 8;
  timeline.forEach((seg, i) => {
    const li = document.createElement('li');
    li.className = 'segment';
    const text = document.createElement('input');
    text.type = 'text'; text.value = seg.text; text.maxLength = 300; text.setAttribute('aria-label', `Segment ${i + 1} text`);
    text.addEventListener('input', () => { seg.text = text.value; });
    const secs = document.createElement('input');
    secs.type = 'number'; secs.min = '0.2'; secs.max = info ? String(info.limits.max_seconds) : '10'; secs.step = '0.2';
    secs.value = String(seg.seconds); secs.setAttribute('aria-label', `Segment ${i + 1} seconds`);
    secs.addEventListener('input', () => { seg.seconds = Number(secs.value); });
    const button = (label, title, fn, disabled) => {
      const b = document.createElement('button');
      b.type = 'button'; b.textContent = label; b.title = title; b.setAttribute('aria-label', title); b.disabled = disabled;
      b.addEventListener('click', () => { fn(); renderTimeline(); });
      return b;
    };
    li.append(text, secs,
      button('↑', 'Move up', () => timeline.splice(i - 1, 0, ...timeline.splice(i, 1)), i === 0),
      button('↓', 'Move down', () => timeline.splice(i + 1, 0, ...timeline.splice(i, 1)), i === timeline.length - 1),
      button('✕', 'Remove segment', () => timeline.splice(i, 1), timeline.length === 1));
    ui.segments.appendChild(li);
  });
  ui.addSegment.disabled = timeline.length >= max;
}

async function compose() {
  if (state.generating) return;
  let body;
  try { body = samplingFields(); } catch (e) { showError(e.message); return; }
  if (timeline.some((s) => !s.text.trim())) { showError('Every segment needs a text.'); return; }
  body.segments = timeline.map((s) => ({ text: s.text.trim(), seconds: s.seconds }));
  await post('/api/compose', body);
}

async function continueCurrent() {
  const s = current();
  if (!s || state.generating) return;
  let body;
  try { body = samplingFields(); } catch (e) { showError(e.message); return; }
  const text = ui.prompt.value.trim();
  if (!text) { showError('Describe what happens next in the prompt box, e.g. “a person sits down”.'); ui.prompt.focus(); return; }
  Object.assign(body, { motion_id: s.id, text, seconds: ui.auto.checked ? 4 : Number(ui.seconds.value) });
  await post('/api/continue', body);
}

function drawMarks() {  // segment boundaries of the current sample on the scrubber
  ui.marks.textContent = '';
  const s = current();
  if (!s || !s.segments || s.segments.length < 2) return;
  const last = Math.max(state.numFrames - 1, 1);
  for (const seg of s.segments.slice(1)) {
    const m = document.createElement('span');
    m.className = 'mark';
    m.style.left = `${(100 * seg.start) / last}%`;
    m.title = `${seg.text} (from ${fmt(seg.start / s.fps, 2)} s)`;
    ui.marks.appendChild(m);
  }
}

async function post(url, body) {
  showError(null);
  setBusy(true);
  clickedAt = performance.now();
  state.firstFrameMs = null;
  cameraMoved = false;
  try {
    const res = await fetch(url, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    if (!res.ok) { showError(await errorMessage(res)); return; }
    if (url === '/api/stream') await readEvents(res); else show(await res.json());
  } catch (e) {
    showError('Cannot reach the t2mgpt server. Is `t2mgpt serve` still running?');
  } finally {
    state.streaming = false;
    setBusy(false);
  }
}

/** Read the server-sent events of /api/stream (a POST, so fetch rather than EventSource). */
async function readEvents(res) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message', data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) name = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}

let streamed = null;  // the response being built from the events
function onEvent(name, d) {
  if (name === 'start') {
    streamed = { text: d.text, model: d.model, skeleton: d.skeleton, seconds: d.seconds, seed: d.seed, fps: d.fps, warnings: d.warnings, samples: [] };
    state.streaming = true;
  } else if (name === 'frames') {
    let s = streamed.samples[d.sample];
    const isNew = !s;
    if (isNew) {
      s = { index: d.sample, seed: streamed.seed + d.sample, fps: streamed.fps, joints: [], num_frames: 0, duration: 0, downloads: null };
      streamed.samples[d.sample] = s;
    }
    for (const frame of d.joints) s.joints.push(frame);
    s.num_frames = s.joints.length;
    s.duration = s.num_frames / s.fps;
    if (isNew) {  // the first chunk of a sample: show it now and play (sample 1 restarts the clock)
      show(streamed, d.sample === 0);
      ui.busy.hidden = true;
    } else {
      if (viewer) viewer.figures[d.sample].append(d.joints);
      grow();
    }
  } else if (name === 'sample') {
    Object.assign(streamed.samples[d.index], { id: d.id, downloads: d.downloads, tokens: d.tokens });
    buildTabs();
    select(state.sample, false);
  } else if (name === 'done') {
    state.streaming = false;
    showCharactersWhenComplete();
  } else if (name === 'error') {
    showError(d.detail);
  }
}

/** More frames arrived: extend the timeline (playback waits at its end until they come). */
function grow() {
  buildTabs();  // durations so far
  select(state.sample, !cameraMoved);  // the camera follows the growing motion until the user moves it
}

function show(data, restart = true) {
  response = data;
  const warnings = data.warnings || [];  // e.g. the prompt does not look like English
  ui.warning.textContent = warnings.join(' ');
  ui.warning.hidden = !warnings.length;
  window.__t2mgpt.response = data;
  state.text = data.text;
  state.samples = data.samples.length;
  if (restart) state.sample = 0;
  ui.empty.hidden = true;
  if (viewer) viewer.setFigures(data.samples, info.skeleton);
  state.charactersLoaded = 0;
  buildTabs();
  ui.sideToggle.hidden = data.samples.length < 2;
  select(restart ? 0 : state.sample, restart);
  showCharactersWhenComplete();
  if (restart) {
    state.time = 0;
    awaitingFirstFrame = true;
    setPlaying(true);
  }
}

/** The character switch needs every sample's GLB download: a streamed response has them at its end. */
function showCharactersWhenComplete() {
  const complete = response.samples.every((s) => s.downloads);
  ui.characterToggle.hidden = !viewer || !complete || !response.samples[0].downloads.glb;
  if (viewer && complete && ui.character.checked) showCharacters();
}

function buildTabs() {
  ui.tabs.textContent = '';
  response.samples.forEach((s, i) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'tab';
    b.setAttribute('role', 'tab');
    const t1 = document.createElement('span'); t1.className = 't1'; t1.textContent = `Sample ${i + 1}`;
    const t2 = document.createElement('span'); t2.className = 't2';
    t2.textContent = `${s.seed === null ? 'greedy' : `seed ${s.seed}`} · ${fmt(s.duration)} s`;
    b.append(t1, t2);
    b.addEventListener('click', () => select(i, !ui.sideBySide.checked));
    ui.tabs.appendChild(b);
  });
}

function current() { return response ? response.samples[state.sample] : null; }

function select(i, reframe) {
  state.sample = i;
  [...ui.tabs.children].forEach((t, k) => t.setAttribute('aria-selected', String(k === i)));
  const s = current();
  state.fps = s.fps;
  state.numFrames = Math.max(...response.samples.map((x) => x.num_frames));
  ui.scrub.max = String(state.numFrames - 1);
  ui.scrub.disabled = false;
  ui.play.disabled = false;
  for (const a of ui.downloads) {
    if (!s.downloads) {  // still streaming: the files exist once the sample is complete
      a.removeAttribute('href');
      a.setAttribute('aria-disabled', 'true');
      continue;
    }
    a.href = s.downloads[a.dataset.format];
    a.removeAttribute('aria-disabled');
    a.title = `Download sample ${i + 1} as ${a.dataset.format.toUpperCase()}`;
  }
  ui.caption.hidden = false;
  ui.caption.textContent = response.text;
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = `sample ${i + 1} of ${response.samples.length} · ${s.seed === null ? 'greedy' : `seed ${s.seed}`} · ` +
    `${s.num_frames} frames at ${s.fps} fps · ${response.model}`;
  ui.caption.appendChild(meta);
  ui.continue.hidden = false;
  drawMarks();
  if (viewer) {
    state.sideBySide = ui.sideBySide.checked && response.samples.length > 1;
    viewer.layout(i, state.sideBySide);
    if (reframe) viewer.frameAll();
    viewer.setFrame(state.time * state.fps);
  }
  updateTime();
}

function showCharacters() {
  state.character = ui.character.checked;
  viewer.showCharacters(state.character, state.time * state.fps).catch((e) => showError(`Could not load the character: ${e.message || e}`));
}

function setPlaying(on) {
  if (!response) on = false;
  if (on && !state.loop && state.frame >= state.numFrames - 1) state.time = 0;
  state.playing = on;
  ui.play.classList.toggle('playing', on);
  ui.play.setAttribute('aria-label', on ? 'Pause' : 'Play');
}

function setTime(t) {
  const dur = state.numFrames / state.fps;
  state.time = Math.min(Math.max(t, 0), Math.max(dur - 1e-6, 0));
  if (viewer) viewer.setFrame(state.time * state.fps);
  updateTime();
}

function updateTime() {
  const f = Math.min(Math.floor(state.time * state.fps + 1e-6), Math.max(state.numFrames - 1, 0));
  state.frame = f;
  ui.time.textContent = `${fmt(state.time, 2)} / ${fmt(state.numFrames / state.fps, 2)} s`;
  if (document.activeElement !== ui.scrub || state.playing) ui.scrub.value = String(f);
}

let last = performance.now();
function tick(now) {
  const dt = Math.min((now - last) / 1000, 0.25);
  last = now;
  if (state.playing && response) {
    const dur = state.numFrames / state.fps;
    let t = state.time + dt * state.speed;
    if (t >= dur && state.streaming) t = dur - 1e-6;  // wait for the next frames
    else if (t >= dur) {
      if (state.loop) t %= dur;
      else { t = dur - 1e-6; setPlaying(false); }
    }
    setTime(t);
  }
  if (viewer && viewer.render()) {
    state.framesRendered++;
    if (awaitingFirstFrame) {  // the first frame of a new motion is on screen
      awaitingFirstFrame = false;
      state.firstFrameMs = performance.now() - clickedAt;
    }
  }
  requestAnimationFrame(tick);
}

async function downloadVideo(e, a) {
  // MP4s are rendered on first request (a few seconds): show progress, then save the blob.
  e.preventDefault();
  if (a.classList.contains('busy')) return;
  a.classList.add('busy');
  a.textContent = 'MP4…';
  try {
    const res = await fetch(a.href);
    if (!res.ok) { showError(await errorMessage(res)); return; }
    const blob = await res.blob();
    const name = (res.headers.get('Content-Disposition') || '').match(/filename="([^"]+)"/);
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = name ? name[1] : 'motion.mp4';
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 30000);
  } catch (err) {
    showError('The video download failed: the server could not be reached.');
  } finally {
    a.classList.remove('busy');
    a.textContent = 'MP4';
  }
}

// ---------------------------------------------------------------------------- events

ui.form.addEventListener('submit', (e) => { e.preventDefault(); generate(); });
ui.addSegment.addEventListener('click', () => {
  timeline.push({ text: 'a person walks forward', seconds: 2 });
  renderTimeline();
});
ui.compose.addEventListener('click', compose);
ui.continue.addEventListener('click', continueCurrent);
renderTimeline();
ui.prompt.addEventListener('input', updateCounter);
ui.prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); generate(); }
});
ui.seconds.addEventListener('input', updateSecondsLabel);
ui.auto.addEventListener('change', updateSecondsLabel);
ui.temperature.addEventListener('input', () => { ui.temperatureValue.textContent = fmt(ui.temperature.value, 2); });
ui.guidance.addEventListener('input', () => { ui.guidanceValue.textContent = fmt(ui.guidance.value, 1); });
ui.dice.addEventListener('click', () => {
  const max = info ? info.limits.max_seed : 2 ** 31 - 1;
  ui.seed.value = String(Math.floor(Math.random() * Math.min(max, 1e6)));
});
ui.sideBySide.addEventListener('change', () => { if (response) select(state.sample, true); });
ui.character.addEventListener('change', () => { if (response && viewer) showCharacters(); });
ui.play.addEventListener('click', () => setPlaying(!state.playing));
ui.scrub.addEventListener('input', () => { setTime(Number(ui.scrub.value) / state.fps); });
ui.speed.addEventListener('change', () => { state.speed = Number(ui.speed.value); });
ui.loop.addEventListener('click', () => {
  state.loop = !state.loop;
  ui.loop.classList.toggle('on', state.loop);
  ui.loop.setAttribute('aria-pressed', String(state.loop));
});
ui.reframe.addEventListener('click', () => { if (viewer && response) viewer.frameAll(); });
for (const a of ui.downloads) if (a.dataset.format === 'mp4') a.addEventListener('click', (e) => downloadVideo(e, a));

document.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); generate(); return; }
  const t = e.target;
  if (t.closest && t.closest('textarea, select, input:not([type=range]):not([type=checkbox])')) return;
  if (e.code === 'Space' || e.key === ' ') {
    e.preventDefault();
    setPlaying(!state.playing);
  } else if ((e.key === 'ArrowRight' || e.key === 'ArrowLeft') && response && t !== ui.scrub) {
    e.preventDefault();
    setPlaying(false);
    setTime((state.frame + (e.key === 'ArrowRight' ? 1 : -1)) / state.fps + 1e-4);
  } else if ((e.key === 'f' || e.key === 'F') && viewer && response && !e.ctrlKey && !e.metaKey) {
    viewer.frameAll();
  }
});

setInterval(() => { if (!document.hidden && !state.generating) refreshHealth(); }, 15000);
updateSecondsLabel();
updateCounter();
loadInfo();
requestAnimationFrame(tick);
