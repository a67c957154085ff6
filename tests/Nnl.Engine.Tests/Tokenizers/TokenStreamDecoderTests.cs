using System.Text;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Tokenizers;

/// <summary>The streaming decoder on arbitrary id sequences, including ones that are not valid UTF-8.</summary>
public sealed class TokenStreamDecoderTests
{
    [Theory]
    [InlineData(51)]
    [InlineData(52)]
    public void RandomIds_StreamToExactlyWhatDecodeGives(int seed)
    {
        var random = new Random(seed);
        var gpt2 = Gpt2ParityTests.Gpt2;
        // Byte tokens of GPT-2 that hold lead and continuation bytes, so sequences break mid-character.
        int[] partial = [.. Enumerable.Range(0x80, 0x80).Select(b => Id(gpt2, ByteLevelAlphabet.Encode((byte)b).ToString()))];
        for (int n = 0; n < 300; n++)
        {
            var ids = Enumerable.Range(0, random.Next(1, 30))
                .Select(_ => random.Next(3) == 0 ? random.Next(gpt2.VocabSize) : partial[random.Next(partial.Length)]).ToList();
            var stream = gpt2.CreateStreamDecoder();
            var sb = new StringBuilder();
            foreach (var id in ids)
            {
                var piece = stream.Push(id);
                Assert.False(piece.Length > 0 && char.IsHighSurrogate(piece[^1]), "a character was cut in half");
                sb.Append(piece);
            }
            sb.Append(stream.Flush());
            Assert.Equal(gpt2.Decode(ids), sb.ToString());
        }
    }

    [Fact]
    public void SkipSpecialTokens_LeavesThemOut()
    {
        var gpt2 = Gpt2ParityTests.Gpt2;
        var stream = gpt2.CreateStreamDecoder(skipSpecialTokens: true);
        Assert.Equal("", stream.Push(50256));
        Assert.Equal("Hello", stream.Push(15496));
        var keeping = gpt2.CreateStreamDecoder();
        Assert.Equal("<|endoftext|>", keeping.Push(50256));
    }

    private static int Id(BpeTokenizer t, string piece) => t.TryGetId(piece, out int id) ? id : throw new ArgumentException(piece);
}
