// Load a .glb with three.js's own GLTFLoader (as a web page would) and report what it found.
import fs from 'fs';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';

const buf = fs.readFileSync(process.argv[2]);
const data = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
new GLTFLoader().parse(data, '', (gltf) => {
  let mesh = null;
  gltf.scene.traverse((o) => { if (o.isMesh) mesh = o; });
  const clip = gltf.animations[0];
  console.log(JSON.stringify({
    vertices: mesh.geometry.attributes.position.count,
    morphTargets: Object.keys(mesh.morphTargetDictionary).length,
    clip: clip.name, duration_s: clip.duration,
    tracks: clip.tracks.map((t) => `${t.name} (${t.times.length} keys)`),
  }));
}, (err) => { console.error(err); process.exit(1); });
