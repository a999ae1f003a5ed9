const text = "no lock file, no dependencies";

console.log(`wildcard app: ${text}`);
