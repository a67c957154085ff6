using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Tokenizers;

/// <summary>Encoding 100 KB of text must take well under a second (a prompt of a long document).</summary>
public sealed class TokenizerPerformanceTests(ITestOutputHelper output)
{
    private static string HundredKilobytes(int seed)
    {
        // Words of random syllables, so the piece cache does not make it easy; some digits, punctuation, unicode.
        var random = new Random(seed);
        string[] syllables = ["ka", "to", "ri", "men", "sha", "lo", "qu", "ex", "ün", "é", "中", "str", "ing", "ed", "th"];
        var sb = new StringBuilder();
        while (Encoding.UTF8.GetByteCount(sb.ToString()) < 100_000)
        {
            for (int w = 0; w < 200; w++)
            {
                for (int s = random.Next(1, 5); s > 0; s--) sb.Append(syllables[random.Next(syllables.Length)]);
                sb.Append(random.Next(12) switch { 0 => ", ", 1 => ".\n", 2 => " " + random.Next(100000) + " ", 3 => "  ", _ => " " });
            }
        }
        return sb.ToString();
    }

    [Fact]
    public void Gpt2_Encodes100KilobytesWellUnderASecond() =>
        Measure(Gpt2ParityTests.Gpt2, "GPT-2");

    [Fact]
    public void SentencePiece_Encodes100KilobytesAsOnePieceWellUnderASecond()
    {
        // Llama 2 has no pre-tokenizer: the whole text is one BPE word, so the merge loop must not be quadratic.
        var words = TestTokenizers.TrainingText.Split(' ')
            .Select(w => new List<string> { "▁" }.Concat(w.EnumerateRunes().Select(r => r.ToString())).ToList());
        var (pieces, merges) = TestTokenizers.Train(words, 200);
        Measure(TokenizerLoader.FromTokenizerJson(TestTokenizers.Llama2Json(pieces, merges)), "SentencePiece");
    }

    private void Measure(ITokenizer tokenizer, string name)
    {
        tokenizer.Encode("warm up the code paths 123 é 中");
        var text = HundredKilobytes(7);
        var cpuBefore = ThreadCpuTime();
        var watch = Stopwatch.StartNew();
        var ids = tokenizer.Encode(text, false);
        watch.Stop();
        var cpu = ThreadCpuTime() - cpuBefore;
        output.WriteLine($"{name}: {Encoding.UTF8.GetByteCount(text)} bytes → {ids.Count} tokens in {watch.Elapsed.TotalMilliseconds:F1} ms wall, {cpu.TotalMilliseconds:F1} ms CPU");
        Assert.Equal(text, tokenizer.Decode(ids));
        // CPU time of this thread where the OS can tell it: on a busy CI machine wall time mostly measures the neighbours.
        Assert.True(cpu < TimeSpan.FromSeconds(1), $"{name} took {cpu.TotalMilliseconds:F0} ms of CPU");
    }

    private static TimeSpan ThreadCpuTime()
    {
        if (!OperatingSystem.IsLinux()) return Stopwatch.GetElapsedTime(0);
        const int ClockThreadCpuTimeId = 3;
        return clock_gettime(ClockThreadCpuTimeId, out var ts) == 0
            ? TimeSpan.FromTicks(ts.Seconds * TimeSpan.TicksPerSecond + ts.Nanoseconds / 100)
            : Stopwatch.GetElapsedTime(0);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", SetLastError = false)]
    private static extern int clock_gettime(int clockId, out TimeSpec time);
}
