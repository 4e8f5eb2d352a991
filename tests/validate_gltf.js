// node validate_gltf.js NPM_GLOBAL_ROOT FILE: print the Khronos glTF validator's summary as JSON.
const validator = require(process.argv[2] + '/gltf-validator');
const fs = require('fs');
const data = new Uint8Array(fs.readFileSync(process.argv[3]));
validator.validateBytes(data)
  .then((r) => console.log(JSON.stringify({errors: r.issues.numErrors, warnings: r.issues.numWarnings,
                                           messages: r.issues.messages})))
  .catch((e) => { console.error(String(e)); process.exit(1); });
