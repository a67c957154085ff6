// Writes tests/Nnl.Engine.Tests/Fixtures/Tokenizers/hf/<name>.expected.json: the ids and decoded text
// that Hugging Face's tokenizers (npm "tokenizers", the Rust library) gives for the GPT-2 parity corpus
// plus texts with special tokens, for tokenizer.json files shaped like Llama 2's and Llama 3's (written
// by the explicit test HfParityTests.WriteTokenizerFiles) and for GPT-2 built from vocab.json + merges.txt.
//   cd tools/tokenizer-parity && npm install && node make-hf-fixture.js
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const fixtures = path.join(__dirname, '..', '..', 'tests', 'Nnl.Engine.Tests', 'Fixtures', 'Tokenizers');
const hfDir = path.join(fixtures, 'hf');
const corpus = JSON.parse(fs.readFileSync(path.join(fixtures, 'gpt2', 'parity.json'), 'utf-8')).entries.map(e => e.text);
const extra = [
  '<s>hello world</s>', 'hello</s>world', ' <s> spaced </s> ', '</s></s>',
  '<|begin_of_text|>Hi<|eot_id|>', 'text<|end_of_text|>', '<|endoftext|>', 'a<|endoftext|>b <|endoftext|> c',
  'a!\ufeffb', 'a!\u0085b', 'x\u0085\u0085 y', '  leading', 'trailing  ', '\n\nnew\r\nlines\n',
  "IT'S I'LL WE'D", 'ſ long s', 'ﬁne ligature',
];
const texts = [...corpus, ...extra];

function gpt2TokenizerJson() {
  const vocab = JSON.parse(fs.readFileSync(path.join(fixtures, 'gpt2', 'vocab.json'), 'utf-8'));
  const merges = fs.readFileSync(path.join(fixtures, 'gpt2', 'merges.txt'), 'utf-8').split('\n')
    .filter((l, i) => l.length > 0 && !(i === 0 && l.startsWith('#version')));
  return JSON.stringify({
    version: '1.0',
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
             fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  });
}

async function run(name, tokenizer) {
  const entries = [];
  for (const text of texts) {
    const ids = (await tokenizer.encode(text, null, { addSpecialTokens: true })).getIds();
    const idsWithoutSpecial = (await tokenizer.encode(text, null, { addSpecialTokens: false })).getIds();
    entries.push({
      text, ids, idsWithoutSpecial,
      decoded: await tokenizer.decode(ids, false),
      decodedSkippingSpecial: await tokenizer.decode(ids, true),
    });
  }
  const version = require('tokenizers/package.json').version;
  fs.writeFileSync(path.join(hfDir, `${name}.expected.json`),
    `{\n "generator": ${JSON.stringify(`tools/tokenizer-parity/make-hf-fixture.js with tokenizers ${version} on node ${process.version}`)},\n "entries": [\n  ` +
    entries.map(e => JSON.stringify(e)).join(',\n  ') + '\n ]\n}\n');
  console.log(`${name}: ${entries.length} entries`);
}

(async () => {
  for (const name of ['llama2-legacy', 'llama2-metaspace', 'llama3'])
    await run(name, Tokenizer.fromFile(path.join(hfDir, `${name}.tokenizer.json`)));
  await run('gpt2', Tokenizer.fromString(gpt2TokenizerJson()));
})().catch(e => { console.error(e); process.exit(1); });
