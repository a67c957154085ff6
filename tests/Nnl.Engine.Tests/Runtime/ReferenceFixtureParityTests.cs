using System.Buffers.Binary;
using System.Text.Json;
using Nnl.Engine.Generation;
using Nnl.Engine.Runtime;

namespace Nnl.Engine.Tests.Runtime;

/// <summary>
/// The CPU engine against transformers' own float32 logits on the committed fixtures
/// (tools/reference/make_fixtures.py): every prompt position from one prefill pass, then the 16
/// generated tokens fed one at a time through the KV cache. Skips when no fixture is present.
/// </summary>
public sealed class ReferenceFixtureParityTests
{
    private const double Tolerance = 1e-4;
    private const string None = "(no fixtures)";

    public static string FixtureRoot => Path.Combine(RepoPaths.Fixtures, "Models");

    public static TheoryData<string> Fixtures()
    {
        var data = new TheoryData<string>();
        if (Directory.Exists(FixtureRoot))
            foreach (var dir in Directory.GetDirectories(FixtureRoot).Order(StringComparer.Ordinal))
                if (File.Exists(Path.Combine(dir, "reference.json"))) data.Add(Path.GetFileName(dir));
        if (data.Count == 0) data.Add(None);
        return data;
    }

    private sealed record Reference(int[] PromptIds, int[] GeneratedIds, int Positions, int VocabSize, string LogitsFile, string Architecture);

    private static Reference Read(string dir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "reference.json")));
        var r = doc.RootElement;
        int[] Ids(string key) => r.GetProperty(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();
        return new Reference(Ids("prompt_ids"), Ids("generated_ids"), r.GetProperty("positions").GetInt32(),
            r.GetProperty("vocab_size").GetInt32(), r.GetProperty("logits_file").GetString()!, r.GetProperty("architecture").GetString()!);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void CpuLogitsMatchTransformers(string fixture)
    {
        if (fixture == None) Assert.Skip($"No parity fixtures under {FixtureRoot}; run tools/reference/make_fixtures.py on a host with transformers.");
        var dir = Path.Combine(FixtureRoot, fixture);
        var reference = Read(dir);
        var tokens = reference.PromptIds.Concat(reference.GeneratedIds).ToArray();
        Assert.Equal(reference.Positions, tokens.Length);

        var raw = File.ReadAllBytes(Path.Combine(dir, reference.LogitsFile));
        Assert.Equal((long)reference.Positions * reference.VocabSize * 4, raw.Length);
        float Expected(int position, int v) => BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan((position * reference.VocabSize + v) * 4));

        using var model = LoadedModel.LoadCpu(dir, cancellation: TestContext.Current.CancellationToken);
        Assert.Equal(reference.Architecture, model.Config.Architecture);
        Assert.Equal(reference.VocabSize, model.Config.VocabSize);
        var vocab = reference.VocabSize;

        using var cache = model.Runner.CreateKvCache(1, tokens.Length);
        var logits = new List<float[]>();
        var prefill = model.Runner.Forward(TokenBatch.Single(reference.PromptIds, allLogits: true), cache, TestContext.Current.CancellationToken);
        for (var t = 0; t < reference.PromptIds.Length; t++) logits.Add(prefill.AsSpan(t * vocab, vocab).ToArray());
        for (var t = reference.PromptIds.Length; t < tokens.Length; t++)
            logits.Add(model.Runner.Forward(TokenBatch.Single(new[] { tokens[t] }, startPosition: t), cache, TestContext.Current.CancellationToken));

        for (var t = 0; t < tokens.Length; t++)
        {
            var expected = Enumerable.Range(0, vocab).Select(v => (double)Expected(t, v)).ToArray();
            var error = ReferenceTransformer.RelativeError(logits[t], expected);
            Assert.True(error <= Tolerance, $"{fixture}: position {t} relative error {error:E2} > {Tolerance:E0}");
            // The engine's greedy choice is transformers' (unless the top two are a near tie).
            if (t >= reference.PromptIds.Length - 1 && t + 1 < tokens.Length)
            {
                var sorted = expected.OrderDescending().ToArray();
                if (sorted[0] - sorted[1] > 1e-3 * Math.Abs(sorted[0]))
                    Assert.Equal(tokens[t + 1], ArgMax(logits[t]));
            }
        }
    }

    private static int ArgMax(float[] v)
    {
        var best = 0;
        for (var i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
