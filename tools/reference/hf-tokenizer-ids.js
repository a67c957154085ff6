// Run in a directory with `npm install @anush008/tokenizers`, after `nnl new-model --preset gpt2 --layers 1 --path /tmp/nnl-try/m`
// and `nnl new-model --preset qwen2-7b --layers 1 --path /tmp/nnl-try/q`; prints tests/Nnl.Engine.Tests/Fixtures/Presets/hf-tokenizers-ids.json.
// Ids Hugging Face tokenizers (Rust, through @anush008/tokenizers 0.6.0) gives for tokenizer.json files New-NnlModel wrote.
const { Tokenizer } = require('@anush008/tokenizers');
const presets = { gpt2: '/tmp/nnl-try/m', 'qwen2-7b': '/tmp/nnl-try/q' };
const texts = ["Hello, world! Nnl runs models larger than GPU memory: ünïcödé and 数字 too.\n", "a tiny model", " t  spaces\tand tabs 1234567",
  "Don't stop: it's 3.14159 <|endoftext|> after", "THE QUICK BROWN FOX jumps over the lazy dog's back!!!"];
(async () => {
  const out = { source: "huggingface tokenizers via @anush008/tokenizers 0.6.0", cases: [] };
  for (const [preset, d] of Object.entries(presets)) {
    const tok = Tokenizer.fromFile(d + '/tokenizer.json');
    for (const t of texts) {
      const enc = await tok.encode(t, null, { addSpecialTokens: false });
      out.cases.push({ preset, text: t, ids: Array.from(enc.getIds()) });
    }
  }
  console.log(JSON.stringify(out, null, 1));
})();
