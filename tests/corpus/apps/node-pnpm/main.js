const ms = require("ms");

const who = "pnpm app";

console.log(`${who}: ${ms("2h")}`);
