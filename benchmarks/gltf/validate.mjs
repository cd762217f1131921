// The Khronos glTF validator's verdict on a .glb: counts and messages, as JSON.
import fs from 'fs';
import validator from 'gltf-validator';

const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(process.argv[2])));
const { numErrors, numWarnings, numInfos, numHints, messages } = report.issues;
console.log(JSON.stringify({ validator: report.validatorVersion, numErrors, numWarnings, numInfos, numHints,
  messages: messages.map(m => `${m.code} ${m.pointer}`) }));
process.exit(numErrors + numWarnings > 0 ? 1 : 0);
