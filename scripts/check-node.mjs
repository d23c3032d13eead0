// Stops a run on anything but Node 24 LTS: `npm ci` installs it (the `node` package, node_modules/.bin),
// and npm scripts put it first on the PATH. Run outside npm, the machine's own node may be older.
const major = Number(process.versions.node.split(".")[0]);
if (major !== 24) {
  console.error(
    `herald: Node ${process.versions.node} is running, Herald needs Node 24 LTS. ` +
      "Run it through npm (npm start, npm test), which uses node_modules/.bin/node after `npm ci`.",
  );
  process.exit(1);
}
console.log(`node ${process.versions.node}`);
