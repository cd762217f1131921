// The avatar: the server's glTF head (52 ARKit morph targets) with eyes and a mouth interior added,
// drawn by three.js. pose() sets one frame: blendshape weights, head rotation, gaze.
import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';

// MediaPipe canonical-face vertex indices (as emosynth/face/render.py uses them): upper lid, lower lid,
// and the two corners of each eye; the inner lips' middle.
const EYES = { left: [386, 374, 263, 362], right: [159, 145, 33, 133] };
const LIPS_MIDDLE = [13, 14];
const HEAD_PIVOT_Z = -0.04; // turns about a point inside the head (metres), as the renderer does

function vertex(positions, i) {
  return new THREE.Vector3().fromBufferAttribute(positions, i);
}

function centre(positions, indices) {
  const c = new THREE.Vector3();
  indices.forEach((i) => c.add(vertex(positions, i)));
  return c.divideScalar(indices.length);
}

function makeEye(positions, [upper, lower, outer, inner]) {
  const width = vertex(positions, outer).distanceTo(vertex(positions, inner));
  const radius = 0.62 * width;
  const eye = new THREE.Group();
  const sclera = new THREE.Mesh(new THREE.SphereGeometry(radius, 32, 16),
    new THREE.MeshStandardMaterial({ color: 0xe8e0d6, roughness: 0.3 }));
  const iris = new THREE.Mesh(new THREE.CircleGeometry(0.42 * radius, 32),
    new THREE.MeshStandardMaterial({ color: 0x4e3a28, roughness: 0.4 }));
  const pupil = new THREE.Mesh(new THREE.CircleGeometry(0.18 * radius, 24), new THREE.MeshBasicMaterial({ color: 0x0c0a0a }));
  iris.position.z = radius * 0.995;
  pupil.position.z = radius * 1.0;
  eye.add(sclera, iris, pupil);
  const c = centre(positions, [upper, lower, outer, inner]);
  eye.position.set(c.x, c.y, c.z - 0.78 * radius); // the front of the eyeball just behind the lids
  return eye;
}

export class Avatar {
  constructor(canvas) {
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(1);
    this.renderer.setSize(canvas.width, canvas.height, false);
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(0x22262e);
    this.camera = new THREE.PerspectiveCamera(24, canvas.width / canvas.height, 0.01, 10);
    this.scene.add(new THREE.HemisphereLight(0xfff4e8, 0x30343c, 1.4));
    const key = new THREE.DirectionalLight(0xffffff, 2.2);
    key.position.set(-0.35, 0.45, 0.82);
    this.scene.add(key);
    this.mesh = null;
    this.names = [];
  }

  async load(url) {
    const gltf = await new GLTFLoader().loadAsync(url);
    let mesh = null;
    gltf.scene.traverse((o) => { if (o.isMesh && o.morphTargetDictionary) mesh = o; });
    if (!mesh) throw new Error(`${url} holds no mesh with morph targets`);
    this.mesh = mesh;
    this.names = Object.keys(mesh.morphTargetDictionary);
    const positions = mesh.geometry.attributes.position;
    this.head = new THREE.Group();          // turns the face, eyes and mouth together
    this.head.position.z = HEAD_PIVOT_Z;
    const face = new THREE.Group();
    face.position.z = -HEAD_PIVOT_Z;
    this.head.add(face);
    mesh.removeFromParent();
    mesh.rotation.set(0, 0, 0);
    face.add(mesh);
    this.eyes = [makeEye(positions, EYES.left), makeEye(positions, EYES.right)];
    face.add(...this.eyes);
    const lips = centre(positions, LIPS_MIDDLE);
    const mouth = new THREE.Mesh(new THREE.SphereGeometry(0.024, 24, 12), new THREE.MeshBasicMaterial({ color: 0x34100f }));
    mouth.scale.set(1.4, 1.0, 0.8);
    mouth.position.set(lips.x, lips.y - 0.008, lips.z - 0.03); // the dark behind the parted lips
    face.add(mouth);
    this.scene.add(this.head);
    const box = new THREE.Box3().setFromObject(mesh);
    const size = box.getSize(new THREE.Vector3());
    const mid = box.getCenter(new THREE.Vector3());
    this.camera.position.set(mid.x, mid.y, box.max.z + 1.0 * size.y / Math.tan(THREE.MathUtils.degToRad(12)) / 2);
    this.camera.lookAt(mid);
    this.render();
    return this;
  }

  // weights: 52 numbers in the server's blendshape order (names); head: [yaw, pitch, roll]; gaze: [yaw, pitch]
  pose(names, weights, head, gaze) {
    const influences = this.mesh.morphTargetInfluences;
    const index = this.mesh.morphTargetDictionary;
    for (let i = 0; i < names.length; i++) {
      const k = index[names[i]];
      if (k !== undefined) influences[k] = weights[i];
    }
    this.head.rotation.set(head[1], head[0], head[2], 'YXZ');
    for (const eye of this.eyes) eye.rotation.set(-gaze[1], gaze[0], 0, 'YXZ');
  }

  // Eases every weight and turn back toward rest between utterances.
  relax(factor) {
    const influences = this.mesh.morphTargetInfluences;
    for (let k = 0; k < influences.length; k++) influences[k] *= factor;
    this.head.rotation.x *= factor; this.head.rotation.y *= factor; this.head.rotation.z *= factor;
    for (const eye of this.eyes) { eye.rotation.x *= factor; eye.rotation.y *= factor; }
  }

  render() {
    this.renderer.render(this.scene, this.camera);
  }
}
