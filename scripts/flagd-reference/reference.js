// The OpenFeature project's flagd evaluator, used by runner's tests as the reference:
//   node reference.js validate FILE...            strict parse against the flagd schemas;
//                                                 exit 1 naming each file and error
//   node reference.js evaluate FILE FLAG PREFIX N the boolean each targeting key PREFIX0 ..
//                                                 PREFIX(N-1) gets, as a string of 0 and 1
// Installed by scripts/setup-tests (npm ci in this folder).
'use strict';
const fs = require('fs');
const { FlagdCore, MemoryStorage } = require('@openfeature/flagd-core');

const quiet = { error() {}, warn() {}, info() {}, debug() {} };

function load(file) {
  const storage = new MemoryStorage(quiet);
  // `true`: strict validation against the flagd schemas (flags.json and targeting.json,
  // compiled into flagd-core); an invalid file throws with the schema's findings.
  storage.setConfigurations(fs.readFileSync(file, 'utf8'), true);
  return new FlagdCore(storage, quiet);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'validate' && args.length > 0) {
  let bad = 0;
  for (const file of args) {
    try {
      load(file);
    } catch (e) {
      bad += 1;
      console.error(`${file}: ${e.message}`);
    }
  }
  process.exit(bad ? 1 : 0);
} else if (cmd === 'evaluate' && args.length === 4) {
  const [file, flag, prefix, n] = args;
  const core = load(file);
  let out = '';
  for (let i = 0; i < Number(n); i++) {
    const r = core.resolveBooleanEvaluation(flag, false, { targetingKey: `${prefix}${i}` }, quiet);
    if (r.errorCode) {
      console.error(`${flag} for ${prefix}${i}: ${r.errorCode} ${r.errorMessage || ''}`);
      process.exit(1);
    }
    out += r.value ? '1' : '0';
  }
  console.log(out);
} else {
  console.error('usage: node reference.js validate FILE... | evaluate FILE FLAG PREFIX N');
  process.exit(2);
}
