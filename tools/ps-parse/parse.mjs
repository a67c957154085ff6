// Parses every PowerShell file (*.ps1, *.psd1, *.psm1) under the given folders or files with
// tree-sitter-powershell and fails on any ERROR or MISSING node, printing file:line:col.
// pwsh's own parser is not available on CI, and a script that does not parse fails only when
// someone runs it; this catches that on every commit.
//
//   node tools/ps-parse/parse.mjs [path...]     (default: the repository root)
//
// Prints one line per file and ends with "N passed, N failed"; exits 1 if any file failed.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Parser from 'tree-sitter';
// The package's "main" is a folder; naming the file avoids Node's deprecation warning for that.
import PowerShell from 'tree-sitter-powershell/bindings/node/index.js';

const extensions = new Set(['.ps1', '.psd1', '.psm1']);
// Build outputs and dependencies: not ours, or copies of ours.
const skippedFolders = new Set(['node_modules', 'bin', 'obj', 'out', '.git', '.device', '.tools']);

function* powerShellFiles(target) {
  const stat = fs.statSync(target);
  if (stat.isFile()) {
    yield target;
    return;
  }
  const entries = fs.readdirSync(target, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const full = path.join(target, entry.name);
    if (entry.isDirectory()) {
      if (!skippedFolders.has(entry.name)) yield* powerShellFiles(full);
    } else if (entry.isFile() && extensions.has(path.extname(entry.name).toLowerCase())) {
      yield full;
    }
  }
}

/** ERROR and MISSING nodes, outermost first; children of an ERROR add nothing new. */
function problems(node, found = []) {
  if (node.isMissing) {
    found.push({ node, what: `missing ${node.type}` });
    return found;
  }
  if (node.type === 'ERROR') {
    const text = node.text.split('\n')[0].slice(0, 40);
    found.push({ node, what: `syntax error near '${text}'` });
    return found;
  }
  if (node.hasError) for (const child of node.children) problems(child, found);
  return found;
}

const parser = new Parser();
parser.setLanguage(PowerShell);

function check(file) {
  let text = fs.readFileSync(file, 'utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // A callback input: node-tree-sitter rejects plain strings above 32 KiB.
  const tree = parser.parse((index) => (index < text.length ? text.slice(index, index + 4096) : null));
  return problems(tree.rootNode);
}

const targets = process.argv.length > 2
  ? process.argv.slice(2)
  : [path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')];
let passed = 0;
let failed = 0;
for (const target of targets) {
  for (const file of powerShellFiles(target)) {
    const shown = path.relative(process.cwd(), file) || file;
    const found = check(file);
    if (found.length === 0) {
      passed++;
      console.log(`ok   ${shown}`);
    } else {
      failed++;
      for (const { node, what } of found) {
        console.log(`FAIL ${shown}:${node.startPosition.row + 1}:${node.startPosition.column + 1}: ${what}`);
      }
    }
  }
}
if (passed + failed === 0) {
  console.log(`no PowerShell files under ${targets.join(', ')}`);
  failed++;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
