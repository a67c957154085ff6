using System.Text;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Tokenizers;

/// <summary>
/// SentencePiece-style BPE as Llama 2 ships it in tokenizer.json. The hand-made vocabulary below is
/// small enough that each expected segmentation is worked out by hand from the merge ranks (the
/// working is in the comments).
/// </summary>
public sealed class SentencePieceBpeTests
{
    // Ranks:                0        1        2         3           4           5        6        7         8          9          10       11
    private static readonly (string, string)[] HandMerges =
    [
        ("l", "l"), ("▁", "h"), ("e", "ll"), ("▁h", "ell"), ("▁hell", "o"), ("o", "r"), ("▁", "w"), ("▁w", "or"),
        ("▁wor", "l"), ("▁worl", "d"), ("e", "l"), ("h", "e"),
    ];

    private static readonly string[] HandPieces =
        ["▁", "h", "e", "l", "o", "w", "r", "d", .. HandMerges.Select(m => m.Item1 + m.Item2)];

    private static BpeTokenizer Hand(bool byteFallback = true, bool mergesAsArrays = false, bool metaspace = false) =>
        TokenizerLoader.FromTokenizerJson(TestTokenizers.Llama2Json(HandPieces, HandMerges, byteFallback, mergesAsArrays, metaspace));

    private static int[] Ids(BpeTokenizer t, params string[] pieces) =>
        pieces.Select(p => t.TryGetId(p, out int id) ? id : throw new ArgumentException(p)).ToArray();

    private static int Byte(int b) => 3 + b;

    [Fact]
    public void HelloWorld_MergesByRank()
    {
        // "▁hello▁world": l l (0) → ll; ▁ h (1); e ll (2); ▁h ell (3); ▁hell o (4); o r (5); ▁ w (6); ▁w or (7); ▁wor l (8); ▁worl d (9).
        var t = Hand();
        Assert.Equal([1, .. Ids(t, "▁hello", "▁world")], t.Encode("hello world"));
        Assert.Equal(Ids(t, "▁hello", "▁world"), t.Encode("hello world", addSpecialTokens: false));
    }

    [Fact]
    public void LowerRankWins_NotLongerMatch()
    {
        var t = Hand();
        // ▁ h e: "▁ h" (1) beats "h e" (11); "▁h e" has no merge.
        Assert.Equal(Ids(t, "▁h", "e"), t.Encode("he", false));
        // ▁ h e l: "▁ h" (1), then "e l" (10).
        Assert.Equal(Ids(t, "▁h", "el"), t.Encode("hel", false));
        // ▁ h e l l l: the leftmost "l l" merges first, leaving the last l alone: ▁hell l (not ▁h el ll).
        Assert.Equal(Ids(t, "▁hell", "l"), t.Encode("helll", false));
    }

    [Fact]
    public void Spaces_BecomeMetaspaceSymbols()
    {
        var t = Hand();
        // "▁hello▁▁world": "▁ ▁" has no merge, the second ▁ joins w.
        Assert.Equal(Ids(t, "▁hello", "▁", "▁world"), t.Encode("hello  world", false));
        // " hello" → "▁▁hello".
        Assert.Equal(Ids(t, "▁", "▁hello"), t.Encode(" hello", false));
        Assert.Equal("hello  world", t.Decode(t.Encode("hello  world", false)));
        Assert.Equal(" hello", t.Decode(t.Encode(" hello"), skipSpecialTokens: true));
    }

    [Fact]
    public void CharactersOutsideTheVocabulary_FallBackToBytes()
    {
        var t = Hand();
        // é = C3 A9; 😀 = F0 9F 98 80.
        Assert.Equal([.. Ids(t, "▁h"), Byte(0xC3), Byte(0xA9)], t.Encode("hé", false));
        Assert.Equal([.. Ids(t, "▁"), Byte(0xF0), Byte(0x9F), Byte(0x98), Byte(0x80)], t.Encode("😀", false));
        Assert.Equal("hé 😀", t.Decode(t.Encode("hé 😀")  , skipSpecialTokens: true));
        Assert.Equal("<0xC3>", t.TokenText(Byte(0xC3)));
        Assert.Equal([0xC3], t.TokenBytes(Byte(0xC3)).ToArray());
    }

    [Fact]
    public void WithoutByteFallback_UnknownCharactersFuseIntoOneUnk()
    {
        var t = Hand(byteFallback: false);
        // ▁ h é é ▁ é: each é is <unk>, consecutive ones fused.
        Assert.Equal([.. Ids(t, "▁h"), 0, .. Ids(t, "▁"), 0], t.Encode("héé é", false));
    }

    [Fact]
    public void SpecialTokensInText_AreMatchedWhole_AndEachRunGetsItsPrefix()
    {
        var t = Hand();
        // Legacy layout: the Prepend normaliser runs on each run of text, so "world" becomes "▁world".
        Assert.Equal([1, .. Ids(t, "▁hello"), 2, .. Ids(t, "▁world")], t.Encode("hello</s>world"));
        Assert.True(t.IsSpecial(2));
        Assert.False(t.IsSpecial(Ids(t, "▁hello")[0]));
    }

    [Fact]
    public void MetaspacePrependFirst_OnlyMarksTheStartOfTheText()
    {
        var t = Hand(metaspace: true);
        // After </s> "world" gets no ▁: w o r l d → "o r" (5) → w or l d, nothing else merges.
        Assert.Equal([1, .. Ids(t, "▁hello"), 2, .. Ids(t, "w", "or", "l", "d")], t.Encode("hello</s>world"));
        Assert.Equal(Ids(t, "▁hello", "▁world"), t.Encode("hello world", false));
        Assert.Equal("hello world", t.Decode(t.Encode("hello world", false)));
    }

    [Fact]
    public void Bos_AndDecodingOfSpecialTokens()
    {
        var t = Hand();
        Assert.Equal(1, t.BosTokenId);
        Assert.Equal(2, t.EosTokenId);
        Assert.Equal("<s>", t.BosToken);
        var ids = t.Encode("hello world");
        Assert.Equal(1, ids[0]);
        // As Hugging Face: the special token's text stays, and the Strip decoder only removes a
        // space that begins the whole text.
        Assert.Equal("<s> hello world", t.Decode(ids));
        Assert.Equal("hello world", t.Decode(ids, skipSpecialTokens: true));
        Assert.Equal([1], t.Encode(""));
    }

    [Fact]
    public void MergesAsArrays_ReadTheSameAsStrings()
    {
        var text = "hello helll he world hé";
        Assert.Equal(Hand().Encode(text), Hand(mergesAsArrays: true).Encode(text));
    }

    [Fact]
    public void StreamDecoder_StripsTheFirstSpaceOnly_AndHoldsBackPartialBytes()
    {
        var t = Hand();
        var ids = t.Encode("hello 😀 world", false);
        var stream = t.CreateStreamDecoder();
        var outputs = ids.Select(stream.Push).ToList();
        Assert.Equal("hello", outputs[0]);
        Assert.Equal("hello 😀 world", string.Concat(outputs) + stream.Flush());
        // ▁ F0 9F 98 80: nothing comes out until the fourth byte.
        int first = ids.ToList().IndexOf(Byte(0xF0));
        Assert.Equal(["", "", "😀"], outputs.Skip(first + 1).Take(3));

        var continuing = t.CreateStreamDecoder(continuesText: true);
        Assert.Equal(" hello", continuing.Push(ids[0]));
    }

    [Fact]
    public void StreamDecoder_FlushesAnUnfinishedCharacterAsReplacement()
    {
        var t = Hand();
        var stream = t.CreateStreamDecoder(continuesText: true);
        Assert.Equal("", stream.Push(Byte(0xF0)));
        Assert.Equal("", stream.Push(Byte(0x9F)));
        Assert.Equal("\uFFFD", stream.Flush());
        Assert.Equal("\uFFFD", t.Decode([Byte(0xF0), Byte(0x9F)]));
    }

    // ---- a trained vocabulary ------------------------------------------------------------------

    private static readonly Lazy<(BpeTokenizer Tokenizer, List<(string, string)> Merges)> Trained = new(() =>
    {
        var words = TestTokenizers.TrainingText.Split(' ')
            .Select(w => new List<string> { "▁" }.Concat(w.EnumerateRunes().Select(r => r.ToString())).ToList());
        var (pieces, merges) = TestTokenizers.Train(Enumerable.Repeat(words, 3).SelectMany(w => w), 300);
        return (TokenizerLoader.FromTokenizerJson(TestTokenizers.Llama2Json(pieces, merges)), merges);
    });

    [Fact]
    public void Trained_HasHundredsOfMerges() => Assert.Equal(300, Trained.Value.Tokenizer.MergeCount);

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void Trained_AgreesWithTheNaiveMergeLoop(int seed)
    {
        var (t, merges) = Trained.Value;
        var random = new Random(seed);
        var trainingWords = TestTokenizers.TrainingText.Split(' ');
        for (int n = 0; n < 100; n++)
        {
            // Words from the training text, glued and cut at random, so long merges happen and break.
            var text = string.Join(random.Next(3) == 0 ? "  " : " ",
                Enumerable.Range(0, random.Next(1, 8)).Select(_ => trainingWords[random.Next(trainingWords.Length)]));
            text = text[random.Next(text.Length)..];
            var symbols = ("▁" + text.Replace(' ', '▁')).EnumerateRunes()
                .SelectMany(r => t.TryGetId(r.ToString(), out _) ? [r.ToString()]
                    : Encoding.UTF8.GetBytes(r.ToString()).Select(b => $"<0x{b:X2}>"))
                .ToList();
            var expected = TestTokenizers.NaiveMerge(symbols, merges).Select(p => t.TryGetId(p, out int id) ? id : -1);
            Assert.Equal(expected, t.Encode(text, false));
        }
    }

    [Theory]
    [InlineData(21)]
    [InlineData(22)]
    [InlineData(23)]
    public void Trained_RoundTripsRandomUnicode(int seed)
    {
        var (t, _) = Trained.Value;
        var random = new Random(seed);
        for (int n = 0; n < 200; n++)
        {
            var text = TestTokenizers.RandomUnicode(random, random.Next(0, 40));
            var ids = t.Encode(text);
            Assert.Equal(text, t.Decode(ids, skipSpecialTokens: true));

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
