using System.Text;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Tokenizers;

/// <summary>
/// Byte-level BPE as Llama 3 ships it: its Split pattern, ByteLevel without the GPT-2 regex,
/// ignore_merges, &lt;|begin_of_text|&gt; from a TemplateProcessing post-processor. Ids 0..255 are
/// the bytes (vocabulary in <see cref="ByteLevelAlphabet"/> characters: "Ġ" is the space).
/// </summary>
public sealed class Llama3ByteLevelTests
{
    // Ranks:                0           1          2             3          4          5            6
    private static readonly (string, string)[] HandMerges =
        [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("3", "4"), ("1", "2"), ("12", "3"), ("4", "5")];

    private static BpeTokenizer Hand(bool ignoreMerges = true) =>
        TokenizerLoader.FromTokenizerJson(TestTokenizers.Llama3Json(
            [.. HandMerges.Select(m => m.Item1 + m.Item2), "Ġzebra", "34", "12"], HandMerges, ignoreMerges));

    private static int Id(BpeTokenizer t, string piece) => t.TryGetId(piece, out int id) ? id : throw new ArgumentException(piece);

    [Fact]
    public void Words_SplitThenMergeByRank()
    {
        var t = Hand();
        // Pieces "the", " the". "the": t h e → "h e" (1) → t he. " the" = Ġ t h e → "Ġ t" (0), "h e" (1), "Ġt he" (2).
        Assert.Equal([TestTokenizers.Llama3Bos, 't', Id(t, "he"), Id(t, "Ġthe")], t.Encode("the the"));
    }

    [Fact]
    public void Digits_AreCutIntoGroupsOfThree()
    {
        var t = Hand();
        // Pieces "123", "45": 1 2 3 → "1 2" (4) → "12 3" (5); 4 5 → "4 5" (6). The lower-ranked "3 4"
        // never sees both digits, as it would with GPT-2's unbounded \p{N}+ ("12 34 5").
        Assert.Equal([Id(t, "123"), Id(t, "45")], t.Encode("12345", false));
    }

    [Fact]
    public void IgnoreMerges_TakesWholePiecesFromTheVocabulary()
    {
        // "Ġzebra" is in the vocabulary but no merge builds it.
        Assert.Equal([Id(Hand(), "Ġzebra")], Hand().Encode(" zebra", false));
        Assert.Equal([' ', 'z', 'e', 'b', 'r', 'a'], Hand(ignoreMerges: false).Encode(" zebra", false));
    }

    [Fact]
    public void SpecialTokens_AreMatchedWholeAndDecodedAsText()
    {
        var t = Hand();
        // The BOS written in the text is kept as well as the one the post-processor adds, as Hugging Face does.
        var ids = t.Encode("<|begin_of_text|>hi<|eot_id|>");
        Assert.Equal([TestTokenizers.Llama3Bos, TestTokenizers.Llama3Bos, 'h', 'i', TestTokenizers.Llama3Eot], ids);
        Assert.Equal("<|begin_of_text|><|begin_of_text|>hi<|eot_id|>", t.Decode(ids));
        Assert.Equal("hi", t.Decode(ids, skipSpecialTokens: true));
        Assert.Equal(TestTokenizers.Llama3Bos, t.BosTokenId);
        Assert.Equal(TestTokenizers.Llama3Eos, t.EosTokenId);
        Assert.Equal("<|begin_of_text|>", t.BosToken);
        Assert.Equal(TestTokenizers.Llama3Eot + 1, t.VocabSize);
    }

    [Fact]
    public void Bytes_OfMultiByteCharacters_AreIds()
    {
        var t = Hand();
        // No merges for these: the ids are the UTF-8 bytes. "é" = C3 A9; " 中" = 20 E4 B8 AD.
        Assert.Equal([0xC3, 0xA9], t.Encode("é", false));
        Assert.Equal(["Ã", "©"], new[] { t.TokenText(0xC3), t.TokenText(0xA9) });
        Assert.Equal([0x20, 0xE4, 0xB8, 0xAD], t.Encode(" 中", false));
    }

    // ---- a trained vocabulary ------------------------------------------------------------------

    private static readonly Lazy<(BpeTokenizer Tokenizer, List<(string, string)> Merges)> Trained = new(() =>
    {
        var pattern = new Llama3Pattern(3);
        var ranges = new List<(int Start, int Length)>();
        pattern.Split(TestTokenizers.TrainingText, ranges);
        var words = ranges
            .Select(r => ByteLevelAlphabet.EncodeUtf8(TestTokenizers.TrainingText.AsSpan(r.Start, r.Length)))
            .Select(w => w.Select(c => c.ToString()).ToList());
        var (pieces, merges) = TestTokenizers.Train(Enumerable.Repeat(words, 2).SelectMany(w => w), 300);
        return (TokenizerLoader.FromTokenizerJson(TestTokenizers.Llama3Json(pieces, merges, ignoreMerges: false)), merges);
    });

    [Theory]
    [InlineData(31)]
    [InlineData(32)]
    public void Trained_AgreesWithTheNaiveMergeLoop(int seed)
    {
        var (t, merges) = Trained.Value;
        var random = new Random(seed);
        var ranges = new List<(int Start, int Length)>();
        for (int n = 0; n < 200; n++)
        {
            int start = random.Next(TestTokenizers.TrainingText.Length);
            var text = TestTokenizers.TrainingText.Substring(start, random.Next(TestTokenizers.TrainingText.Length - start));
            if (random.Next(2) == 0) text = TestTokenizers.RandomUnicode(random, 5) + text;
            ranges.Clear();
            new Llama3Pattern(3).Split(text, ranges);
            var expected = ranges
                .SelectMany(r => TestTokenizers.NaiveMerge(
                    ByteLevelAlphabet.EncodeUtf8(text.AsSpan(r.Start, r.Length)).Select(c => c.ToString()).ToList(), merges))
                .Select(p => Id(t, p));
            Assert.Equal(expected, t.Encode(text, false));
        }
    }

    [Theory]
    [InlineData(41)]
    [InlineData(42)]
    [InlineData(43)]
    public void Trained_RoundTripsRandomUnicode(int seed)
    {
        var (t, _) = Trained.Value;
        var random = new Random(seed);
        for (int n = 0; n < 200; n++)
        {
            var text = TestTokenizers.RandomUnicode(random, random.Next(0, 40));
            var ids = t.Encode(text);
            Assert.Equal(TestTokenizers.Llama3Bos, ids[0]);
            Assert.Equal(text, t.Decode(ids.Skip(1)));

            var stream = t.CreateStreamDecoder(skipSpecialTokens: true);
            var sb = new StringBuilder();
            foreach (var id in ids)
            {
                var piece = stream.Push(id);
                Gpt2ParityTests.AssertWellFormed(piece);
                sb.Append(piece);
            }
            Assert.Equal("", stream.Flush());
            Assert.Equal(text, sb.ToString());
        }
    }
}
