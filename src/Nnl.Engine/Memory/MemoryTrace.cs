using System.Globalization;

namespace Nnl.Engine.Memory;

/// <summary>One step of a memory trace: allocate (id, bytes, owner), free (id), or a token boundary.</summary>
public readonly record struct MemoryTraceEvent(MemoryTraceOperation Operation, long Id, long Bytes, string Owner);

public enum MemoryTraceOperation { Allocate, Free, Token }

/// <summary>
/// A sequence of allocations and frees that a pool (or PyTorch's allocator, tools/gpu/pool/torch_replay.py)
/// replays. Text form, one event a line: "a ID BYTES OWNER...", "f ID", "t" (a token ends); '#' starts a comment.
/// </summary>
public sealed class MemoryTrace
{
    public MemoryTrace(string name, IReadOnlyList<MemoryTraceEvent> events)
    {
        Name = name;
        Events = events;
    }

    public string Name { get; }
    public IReadOnlyList<MemoryTraceEvent> Events { get; }
    public int Tokens => Events.Count(e => e.Operation == MemoryTraceOperation.Token);

    /// <summary>The most bytes live at once, as requested.</summary>
    public long PeakLiveBytes
    {
        get
        {
            var live = new Dictionary<long, long>();
            long now = 0, peak = 0;
            foreach (var e in Events)
            {
                if (e.Operation == MemoryTraceOperation.Allocate) { live[e.Id] = e.Bytes; now += e.Bytes; peak = Math.Max(peak, now); }
                else if (e.Operation == MemoryTraceOperation.Free) now -= live[e.Id];
            }
            return peak;
        }
    }

    public void Write(TextWriter writer)
    {
        writer.WriteLine($"# nnl memory trace v1: {Name}");
        foreach (var e in Events)
            writer.WriteLine(e.Operation switch
            {
                MemoryTraceOperation.Allocate => string.Create(CultureInfo.InvariantCulture, $"a {e.Id} {e.Bytes} {e.Owner}"),
                MemoryTraceOperation.Free => string.Create(CultureInfo.InvariantCulture, $"f {e.Id}"),
                _ => "t",
            });
    }

    public static MemoryTrace Read(string path)
    {
        using var reader = new StreamReader(path);
        return Parse(reader, path);
    }

    public static MemoryTrace Parse(TextReader reader, string source)
    {
        var events = new List<MemoryTraceEvent>();
        var live = new HashSet<long>();
        string name = Path.GetFileNameWithoutExtension(source);
        int lineNumber = 0;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (line.StartsWith("# nnl memory trace v1: ", StringComparison.Ordinal)) { name = line["# nnl memory trace v1: ".Length..]; continue; }
            if (line.Length == 0 || line[0] == '#') continue;
            var parts = line.Split(' ', 4);
            NnlArgumentException Bad(string why) => new("trace", $"{source} line {lineNumber}: {why}: '{line}'");
            long Number(int i) => parts.Length > i && long.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : throw Bad($"field {i + 1} is not an integer");
            switch (parts[0])
            {
                case "a":
                    long id = Number(1), bytes = Number(2);
                    if (bytes <= 0) throw Bad("size must be positive");
                    if (!live.Add(id)) throw Bad($"id {id} is already live");
                    events.Add(new(MemoryTraceOperation.Allocate, id, bytes, parts.Length > 3 ? parts[3] : ""));
                    break;
                case "f":
                    long fid = Number(1);
                    if (!live.Remove(fid)) throw Bad($"id {fid} is not live");
                    events.Add(new(MemoryTraceOperation.Free, fid, 0, ""));
                    break;
                case "t":
                    events.Add(new(MemoryTraceOperation.Token, 0, 0, ""));
                    break;
                default:
                    throw Bad("expected 'a', 'f' or 't'");
            }
        }
        return new MemoryTrace(name, events);
    }

    /// <summary>
    /// Layer-by-layer offloading of a Llama-2-13B-shaped model in fp16: every block's weights (about
    /// 634 MB) are streamed for every token with <paramref name="prefetchDepth"/> blocks in flight,
    /// embedding and head stay resident, a KV cache per layer, and each layer's activations
    /// allocated and freed as they live and die. The first token is a prefill of <paramref name="promptTokens"/>.
    /// </summary>
    public static MemoryTrace LlamaOffload(int layers = 40, int hidden = 5120, int intermediate = 13824, int heads = 40, int vocab = 32000,
        int promptTokens = 512, int decodeTokens = 32, int context = 2048, int prefetchDepth = 2)
    {
        var b = new Builder();
        long h = hidden, inter = intermediate;
        long blockWeights = (4 * h * h + 3 * h * inter + 2 * h) * 2;
        long embedding = b.Alloc((long)vocab * h * 2, "embedding weights");
        long head = b.Alloc((long)vocab * h * 2 + h * 2, "head weights");
        var kv = new long[layers];
        for (int i = 0; i < layers; i++) kv[i] = b.Alloc(2L * context * h * 2, $"layer {i} kv cache");

        var weights = new Dictionary<int, long>(); // stream position (step * layers + layer) -> id
        int steps = 1 + decodeTokens;
        long total = (long)steps * layers;
        void Prefetch(long position)
        {
            if (position < total && !weights.ContainsKey((int)position))
                weights[(int)position] = b.Alloc(blockWeights, $"layer {position % layers} weights");
        }
        for (long p = 0; p < prefetchDepth; p++) Prefetch(p);

        int past = 0;
        for (int step = 0; step < steps; step++)
        {
            long n = step == 0 ? promptTokens : 1;
            long hiddenState = b.Alloc(n * h * 2, "hidden state");
            for (int layer = 0; layer < layers; layer++)
            {
                long position = (long)step * layers + layer;
                Prefetch(position);
                Prefetch(position + prefetchDepth);
                long norm = b.Alloc(n * h * 2, "activations");
                long qkv = b.Alloc(n * 3 * h * 2, "activations");
                b.Free(norm);
                long scores = b.Alloc(heads * n * (past + n) * 4, "attention scores");
                long attention = b.Alloc(n * h * 2, "activations");
                b.Free(scores);
                b.Free(qkv);
                long gateUp = b.Alloc(n * 2 * inter * 2, "mlp activations");
                long mlpOut = b.Alloc(n * h * 2, "hidden state");
                b.Free(gateUp);
                b.Free(attention);
                b.Free(hiddenState);
                hiddenState = mlpOut;
                b.Free(weights[(int)position]);
                weights.Remove((int)position);
            }
            long logits = b.Alloc((long)vocab * 4, "logits");
            b.Free(hiddenState);
            b.Free(logits);
            past += (int)n;
            b.Token();
        }
        foreach (var id in kv) b.Free(id);
        b.Free(embedding);
        b.Free(head);
        return new MemoryTrace($"llama-2-13b offload, {layers} layers, prefetch {prefetchDepth}, prompt {promptTokens}, {decodeTokens} decode tokens", b.Events);
    }

    /// <summary>
    /// Random sizes, log-uniform from <paramref name="minBytes"/> to <paramref name="maxBytes"/>, freed in
    /// random order, with at most <paramref name="maxLiveBytes"/> live; a "token" every 100 events.
    /// </summary>
    public static MemoryTrace Random(int seed, int operations = 20_000, long minBytes = 256, long maxBytes = 256L << 20, long maxLiveBytes = 5L << 30)
    {
        var rng = new System.Random(seed);
        var b = new Builder();
        var live = new List<(long Id, long Bytes)>();
        long liveBytes = 0;
        for (int op = 0; op < operations; op++)
        {
            long bytes = (long)Math.Exp(Math.Log(minBytes) + rng.NextDouble() * (Math.Log(maxBytes) - Math.Log(minBytes)));
            if (live.Count > 0 && (rng.NextDouble() < 0.45 || liveBytes + bytes > maxLiveBytes))
            {
                int i = rng.Next(live.Count);
                b.Free(live[i].Id);
                liveBytes -= live[i].Bytes;
                live[i] = live[^1];
                live.RemoveAt(live.Count - 1);
            }
            else
            {
                string owner = bytes < (1 << 20) ? "tensor < 1 MiB" : bytes < (64 << 20) ? "tensor 1-64 MiB" : "tensor > 64 MiB";
                live.Add((b.Alloc(bytes, owner), bytes));
                liveBytes += bytes;
            }
            if (op % 100 == 99) b.Token();
        }
        foreach (var (id, _) in live) b.Free(id);
        return new MemoryTrace($"random, seed {seed}, {operations} operations", b.Events);
    }

    private sealed class Builder
    {
        public readonly List<MemoryTraceEvent> Events = new();
        private long _next;

        public long Alloc(long bytes, string owner)
        {
            long id = ++_next;
            Events.Add(new(MemoryTraceOperation.Allocate, id, bytes, owner));
            return id;
        }

        public void Free(long id) => Events.Add(new(MemoryTraceOperation.Free, id, 0, ""));
        public void Token() => Events.Add(new(MemoryTraceOperation.Token, 0, 0, ""));
    }
}
