const ms = require("ms");

const name = "yarn app";

console.log(`${name}: ${ms(90000, { long: true })}`);
