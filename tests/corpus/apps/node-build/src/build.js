// A tiny "bundler": strips comments and blank lines from src/app.js into dist/app.js.
const fs = require("fs");

const source = fs.readFileSync(__dirname + "/app.js", "utf8");
const out = source.split("\n").filter((l) => l.trim() && !l.trim().startsWith("//")).join("\n") + "\n";
fs.mkdirSync("dist", { recursive: true });
fs.writeFileSync("dist/app.js", out);
