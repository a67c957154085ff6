using System.Text;
using System.Text.Json;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Tokenizers;

/// <summary>
/// GPT-2's vocabulary against npm's gpt-3-encoder, run under node by
/// tools/tokenizer-parity/make-gpt2-fixture.js: every id of every corpus entry must match.
/// Where gpt-3-encoder and Hugging Face / OpenAI's GPT-2 disagree, Nnl follows the latter; those
/// spots are kept out of the corpus and pinned in <see cref="Gpt2DivergenceTests"/>.
/// </summary>
public sealed class Gpt2ParityTests
{
    internal static string Gpt2Directory => Path.Combine(RepoPaths.Fixtures, "Tokenizers", "gpt2");

    private static readonly Lazy<BpeTokenizer> Shared = new(() => TokenizerLoader.Load(Gpt2Directory));
    internal static BpeTokenizer Gpt2 => Shared.Value;

    public static TheoryData<int> EntryIndexes()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Corpus.Value.Count; i++) data.Add(i);
        return data;
    }

    private static readonly Lazy<List<(string Text, int[] Ids)>> Corpus = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Gpt2Directory, "parity.json")));
        return doc.RootElement.GetProperty("entries").EnumerateArray()
            .Select(e => (e.GetProperty("text").GetString()!, e.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray()))
            .ToList();
    });

    [Fact]
    public void Vocabulary_IsGpt2s()
    {
        Assert.Equal(50257, Gpt2.VocabSize);
        Assert.Equal(50000, Gpt2.MergeCount);
        Assert.Equal("ByteLevelBpe", Gpt2.Kind);
        Assert.Equal(50256, Gpt2.EosTokenId);
        Assert.True(Corpus.Value.Count >= 90);
    }

    [Theory]
    [MemberData(nameof(EntryIndexes))]
    public void Encode_GivesTheIdsOfGpt3Encoder(int entry)
    {
        var (text, expected) = Corpus.Value[entry];
        Assert.Equal(expected, Gpt2.Encode(text));
    }

    [Theory]
    [MemberData(nameof(EntryIndexes))]
    public void Decode_OfEncode_IsTheText(int entry)
    {
        var (text, expected) = Corpus.Value[entry];
        Assert.Equal(text, Gpt2.Decode(expected));
        Assert.Equal(text, Gpt2.Decode(Gpt2.Encode(text)));
    }

    [Theory]
    [MemberData(nameof(EntryIndexes))]
    public void StreamDecoder_YieldsWholeCharactersThatConcatenateToTheText(int entry)
    {
        var (text, ids) = Corpus.Value[entry];
        var stream = Gpt2.CreateStreamDecoder();
        var all = new StringBuilder();
        foreach (int id in ids)
        {
            var piece = stream.Push(id);
            AssertWellFormed(piece);
            all.Append(piece);
        }
        Assert.Equal("", stream.Flush());
        Assert.Equal(text, all.ToString());
    }

    [Fact]
    public void StreamDecoder_HoldsBackAnEmojiSplitAcrossTokens()
    {
        // In GPT-2 "😀" (F0 9F 98 80) is two tokens: "ðŁĺ" (F0 9F 98) and "Ģ" (80).
        var ids = Gpt2.Encode("😀");
        Assert.Equal(2, ids.Count);
        Assert.Equal([0xF0, 0x9F, 0x98], Gpt2.TokenBytes(ids[0]).ToArray());
        Assert.Equal([0x80], Gpt2.TokenBytes(ids[1]).ToArray());

        var stream = Gpt2.CreateStreamDecoder();
        Assert.Equal("", stream.Push(ids[0]));
        Assert.Equal("😀", stream.Push(ids[1]));
    }

    internal static void AssertWellFormed(string s)
    {
        // Strict UTF-8 round trip fails on lone surrogates, which a half-decoded character would leave.
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        strict.GetBytes(s);
        Assert.DoesNotContain('\uFFFD', s);
    }
}
