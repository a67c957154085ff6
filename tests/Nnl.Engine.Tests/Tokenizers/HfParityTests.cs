using System.Text.Json;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Tokenizers;

/// <summary>
/// Hugging Face's tokenizers library (npm "tokenizers", its Rust core) as an outside reference:
/// tools/tokenizer-parity/make-hf-fixture.js loads the tokenizer.json files under Fixtures/Tokenizers/hf
/// (written by <see cref="WriteTokenizerFiles"/>, shaped like Llama 2's and Llama 3's) and a GPT-2
/// tokenizer.json built from vocab.json + merges.txt, encodes the parity corpus and some special-token
/// texts, and records ids and decoded text. Nnl must give the same.
/// </summary>
public sealed class HfParityTests
{
    private static string HfDirectory => Path.Combine(RepoPaths.Fixtures, "Tokenizers", "hf");

    public static TheoryData<string> Names() => ["llama2-legacy", "llama2-metaspace", "llama3", "gpt2"];

    private sealed record Entry(string Text, int[] Ids, int[] IdsWithoutSpecial, string Decoded, string DecodedSkippingSpecial);

    private static List<Entry> Expected(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(HfDirectory, name + ".expected.json")));
        return doc.RootElement.GetProperty("entries").EnumerateArray().Select(e => new Entry(
            e.GetProperty("text").GetString()!,
            e.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            e.GetProperty("idsWithoutSpecial").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            e.GetProperty("decoded").GetString()!,
            e.GetProperty("decodedSkippingSpecial").GetString()!)).ToList();
    }

    private static ITokenizer Load(string name) => name == "gpt2"
        ? Gpt2ParityTests.Gpt2
        : TokenizerLoader.Load(Path.Combine(HfDirectory, name + ".tokenizer.json"));

    [Theory]
    [MemberData(nameof(Names))]
    public void Encode_MatchesHuggingFace(string name)
    {
        var tokenizer = Load(name);
        var entries = Expected(name);
        Assert.True(entries.Count > 90);
        foreach (var e in entries)
        {
            Assert.True(e.Ids.SequenceEqual(tokenizer.Encode(e.Text)), $"{name}: ids of {JsonSerializer.Serialize(e.Text)}");
            Assert.True(e.IdsWithoutSpecial.SequenceEqual(tokenizer.Encode(e.Text, addSpecialTokens: false)),
                $"{name}: ids without special tokens of {JsonSerializer.Serialize(e.Text)}");
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Decode_MatchesHuggingFace(string name)
    {
        var tokenizer = Load(name);
        foreach (var e in Expected(name))
        {
            Assert.Equal(e.Decoded, tokenizer.Decode(e.Ids));
            Assert.Equal(e.DecodedSkippingSpecial, tokenizer.Decode(e.Ids, skipSpecialTokens: true));
        }
    }

    /// <summary>Regenerates the tokenizer.json files the node script reads (run explicitly, then the script).</summary>
    [Fact(Explicit = true)]
    public void WriteTokenizerFiles()
    {
        var dir = Path.Combine(RepoPaths.Root, "tests", "Nnl.Engine.Tests", "Fixtures", "Tokenizers", "hf");
        Directory.CreateDirectory(dir);

        var spWords = TestTokenizers.TrainingText.Split(' ')
            .Select(w => new List<string> { "▁" }.Concat(w.EnumerateRunes().Select(r => r.ToString())).ToList());
        var (spPieces, spMerges) = TestTokenizers.Train(Enumerable.Repeat(spWords, 3).SelectMany(w => w), 300);
        File.WriteAllText(Path.Combine(dir, "llama2-legacy.tokenizer.json"), TestTokenizers.Llama2Json(spPieces, spMerges));
        File.WriteAllText(Path.Combine(dir, "llama2-metaspace.tokenizer.json"), TestTokenizers.Llama2Json(spPieces, spMerges, metaspace: true));

        var ranges = new List<(int Start, int Length)>();
        new Llama3Pattern(3).Split(TestTokenizers.TrainingText, ranges);
        var blWords = ranges
            .Select(r => ByteLevelAlphabet.EncodeUtf8(TestTokenizers.TrainingText.AsSpan(r.Start, r.Length)))
            .Select(w => w.Select(c => c.ToString()).ToList());
        var (blPieces, blMerges) = TestTokenizers.Train(Enumerable.Repeat(blWords, 2).SelectMany(w => w), 300);
        File.WriteAllText(Path.Combine(dir, "llama3.tokenizer.json"), TestTokenizers.Llama3Json(blPieces, blMerges));
    }
}
