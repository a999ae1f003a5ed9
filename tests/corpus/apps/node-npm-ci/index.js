const ms = require("ms");

const label = "npm ci app";

console.log(`${label}: a day is ${ms("1d")} ms`);
