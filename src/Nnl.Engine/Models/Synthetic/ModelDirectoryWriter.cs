using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Nnl.Engine.Models.Synthetic;

/// <summary>What <see cref="ModelDirectoryWriter"/> wrote.</summary>
public sealed record ModelDirectoryWriteResult(string Directory, IReadOnlyList<string> Files, int ShardCount, long WeightBytes, long BytesWritten, double Seconds);

/// <summary>
/// Writes a <see cref="SyntheticModel"/> as a Hugging Face model directory: config.json,
/// generation_config.json, tokenizer.json + tokenizer_config.json, model-0000i-of-0000N.safetensors
/// shards and model.safetensors.index.json. Weights are generated on every core into two large
/// buffers while the other one is written, so the disk never waits for the generator. Free space is
/// checked before anything is written; on failure or cancellation the files written so far are removed.
/// </summary>
public sealed unsafe class ModelDirectoryWriter
{
    public const long DefaultMaxShardBytes = 2_000_000_000;
    private const long BlockBytes = 64L << 20;
    private const long PieceElements = 1 << 20;

    /// <summary>Largest shard (a single tensor larger than this gets a shard of its own).</summary>
    public long MaxShardBytes { get; init; } = DefaultMaxShardBytes;

    public IFreeSpaceProvider FreeSpace { get; init; } = DriveFreeSpaceProvider.Instance;

    /// <summary>Replace the model files of a non-empty directory (other files are left alone).</summary>
    public bool Force { get; init; }

    /// <summary>Called on the writing thread with (bytes written, bytes to write).</summary>
    public Action<long, long>? Progress { get; init; }

    /// <summary>Files a model directory of Nnl's consists of; -Force removes only these.</summary>
    public static bool IsModelFile(string fileName) =>
        fileName is "config.json" or "generation_config.json" or "tokenizer.json" or "tokenizer_config.json" or WeightCatalog.IndexFileName
        || (fileName.StartsWith("model", StringComparison.Ordinal) && fileName.EndsWith(".safetensors", StringComparison.Ordinal));

    /// <summary>The shards: consecutive runs of tensors of at most <see cref="MaxShardBytes"/> each.</summary>
    public IReadOnlyList<IReadOnlyList<TensorInfo>> PlanShards(SyntheticModel model)
    {
        var shards = new List<List<TensorInfo>>();
        List<TensorInfo>? current = null;
        long size = 0;
        foreach (var t in model.Tensors)
        {
            if (current is null || (size + t.ByteCount > MaxShardBytes && current.Count > 0))
            {
                current = new List<TensorInfo>();
                shards.Add(current);
                size = 0;
            }
            current.Add(t);
            size += t.ByteCount;
        }
        return shards;
    }

    public static string ShardName(int index, int count) => $"model-{index + 1:D5}-of-{count:D5}.safetensors";

    public ModelDirectoryWriteResult Write(SyntheticModel model, string directory, CancellationToken cancellation = default)
    {
        var dir = Path.GetFullPath(directory);
        if (File.Exists(dir)) throw new NnlArgumentException("Path", $"'{dir}' is a file, not a directory.");
        var existed = Directory.Exists(dir);
        if (existed && Directory.EnumerateFileSystemEntries(dir).Any())
        {
            if (!Force)
                throw new NnlArgumentException("Path", $"'{dir}' is not empty; New-NnlModel does not overwrite it (use -Force to replace the model files in it).");
        }

        var shards = PlanShards(model);
        var headers = shards.Select(Header).ToArray();
        var shardBytes = shards.Select((s, i) => headers[i].Length + s.Sum(t => t.ByteCount)).ToArray();
        var vocabulary = ByteLevelVocabulary.For(model.Config);
        // tokenizer.json: about 40 bytes per vocabulary entry and merge; a margin for the small files and the file system.
        var required = shardBytes.Sum() + 40L * (vocabulary.Tokens.Count + vocabulary.Merges.Count) + (4L << 20);
        var available = FreeSpace.AvailableBytes(dir);
        if (existed && Force)
            available += Directory.EnumerateFiles(dir).Where(f => IsModelFile(Path.GetFileName(f))).Sum(f => new FileInfo(f).Length);
        if (required > available) throw new NnlDiskSpaceException(dir, required, available);

        var clock = Stopwatch.StartNew();
        var written = new List<string>();
        try
        {
            Directory.CreateDirectory(dir);
            if (existed && Force)
                foreach (var f in Directory.EnumerateFiles(dir).Where(f => IsModelFile(Path.GetFileName(f))).ToArray()) File.Delete(f);

            void Text(string name, string text)
            {
                var path = Path.Combine(dir, name);
                written.Add(path);
                File.WriteAllText(path, text, new UTF8Encoding(false));
            }
            Text("config.json", model.ConfigJson.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            Text("generation_config.json", model.GenerationConfigJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            var tokenizerPath = Path.Combine(dir, "tokenizer.json");
            written.Add(tokenizerPath);
            using (var fs = new FileStream(tokenizerPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                vocabulary.WriteTokenizerJson(fs);
            Text("tokenizer_config.json", vocabulary.TokenizerConfigJson(model.Config));

            var names = shards.Select((_, i) => ShardName(i, shards.Count)).ToArray();
            var index = new Dictionary<string, object>
            {
                ["metadata"] = new Dictionary<string, long> { ["total_size"] = model.WeightBytes },
                ["weight_map"] = shards.SelectMany((s, i) => s.Select(t => (t.Name, File: names[i]))).ToDictionary(p => p.Name, p => p.File),
            };
            Text(WeightCatalog.IndexFileName, JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true }));

            var total = shardBytes.Sum();
            long done = 0;
            Progress?.Invoke(0, total);
            using var buffers = new BlockBuffers();
            for (var s = 0; s < shards.Count; s++)
            {
                var path = Path.Combine(dir, names[s]);
                written.Add(path);
                WriteShard(model.Weights, path, headers[s], shards[s], shardBytes[s], buffers, cancellation, n =>
                {
                    done += n;
                    Progress?.Invoke(done, total);
                });
            }
            return new ModelDirectoryWriteResult(dir, written, shards.Count, model.WeightBytes, written.Sum(f => new FileInfo(f).Length), clock.Elapsed.TotalSeconds);
        }
        catch
        {
            // Ctrl+C or a failure: leave no half-written model behind.
            foreach (var f in written)
                try { File.Delete(f); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            if (!existed)
                try { if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>The shard's header: 8-byte length, then JSON padded with spaces so the data starts 8-aligned.</summary>
    private static byte[] Header(IReadOnlyList<TensorInfo> tensors)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            w.WriteString("format", "pt");
            w.WriteEndObject();
            long at = 0;
            foreach (var t in tensors)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType.SafetensorsName());
                w.WriteStartArray("shape");
                foreach (var d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(at);
                w.WriteNumberValue(at + t.ByteCount);
                w.WriteEndArray();
                w.WriteEndObject();
                at += t.ByteCount;
            }
            w.WriteEndObject();
        }
        var json = ms.ToArray();
        var padded = (json.Length + 7) / 8 * 8;
        var header = new byte[8 + padded];
        BitConverter.TryWriteBytes(header.AsSpan(0, 8), (ulong)padded);
        json.CopyTo(header, 8);
        header.AsSpan(8 + json.Length).Fill((byte)' ');
        return header;
    }

    private static void WriteShard(SyntheticWeights weights, string path, byte[] header, IReadOnlyList<TensorInfo> tensors, long fileBytes,
        BlockBuffers buffers, CancellationToken cancellation, Action<long> advanced)
    {
        using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None, fileBytes);
        RandomAccess.Write(handle, header, 0);
        advanced(header.Length);

        // Byte ranges of the tensors in the data section.
        var starts = new long[tensors.Count];
        long dataBytes = 0;
        for (var i = 0; i < tensors.Count; i++) { starts[i] = dataBytes; dataBytes += tensors[i].ByteCount; }

        Task? pending = null;
        var which = 0;
        var failed = false;
        try
        {
            for (long block = 0; block < dataBytes; block += BlockBytes)
            {
                cancellation.ThrowIfCancellationRequested();
                var length = Math.Min(BlockBytes, dataBytes - block);
                var buffer = buffers[which];
                Generate(weights, tensors, starts, block, length, buffer);
                // The previous block's write overlapped this block's generation; wait before reusing its buffer next time.
                pending?.GetAwaiter().GetResult();
                var offset = header.Length + block;
                var len = (int)length;
                var p = (nint)buffer;
                pending = Task.Run(() => RandomAccess.Write(handle, new ReadOnlySpan<byte>((void*)p, len), offset));
                advanced(length);
                which ^= 1;
            }
        }
        catch
        {
            failed = true;
            throw;
        }
        finally
        {
            // Never return (or free the buffers) while a write still reads from them.
            if (pending is not null)
            {
                try { pending.GetAwaiter().GetResult(); }
                catch (Exception) when (failed) { /* the first failure is the one to report */ }
            }
        }
    }

    /// <summary>Fills <paramref name="buffer"/> with data-section bytes [block, block + length), spread over the cores.</summary>
    private static void Generate(SyntheticWeights weights, IReadOnlyList<TensorInfo> tensors, long[] starts, long block, long length, byte* buffer)
    {
        var pieces = new List<(TensorInfo Tensor, long First, long Count, long Offset)>();
        for (var i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            var begin = Math.Max(block, starts[i]);
            var end = Math.Min(block + length, starts[i] + t.ByteCount);
            if (begin >= end) continue;
            var elementBytes = t.DType.ElementBytes();
            var first = (begin - starts[i]) / elementBytes;
            var count = (end - begin) / elementBytes;
            for (long e = 0; e < count; e += PieceElements)
                pieces.Add((t, first + e, Math.Min(PieceElements, count - e), begin - block + e * elementBytes));
        }
        var b = (nint)buffer;
        Parallel.ForEach(pieces, p => weights.Fill(p.Tensor, p.First, p.Count, (byte*)b + p.Offset));
    }

    /// <summary>Two native buffers of one block each (generation fills one while the other is written).</summary>
    private sealed class BlockBuffers : IDisposable
    {
        private readonly byte*[] _buffers = { (byte*)NativeMemory.AlignedAlloc((nuint)BlockBytes, 4096), (byte*)NativeMemory.AlignedAlloc((nuint)BlockBytes, 4096) };

        public byte* this[int i] => _buffers[i];

        public void Dispose()
        {
            foreach (var b in _buffers) NativeMemory.AlignedFree(b);
        }
    }
}
