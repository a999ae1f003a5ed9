// The application: built into dist/ by src/build.js.
const ms = require("ms");

console.log(`built app: ${ms("1m")} ms in a minute`);
