using System.IO.MemoryMappedFiles;
using System.Text.Json;
using Nnl.Engine.Runtime;

namespace Nnl.Engine.Models;

/// <summary>
/// One .safetensors file, memory-mapped read-only. Layout: 8 bytes little-endian header length N,
/// N bytes of JSON ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}),
/// then the data section; offsets are relative to the data section. Everything in the header is
/// checked before any tensor is handed out, so a bad file fails here with the file and byte offset.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>The format's own limit on the header (the reference implementation refuses more).</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    private static readonly HashSet<string> KnownUnsupportedDTypes = new(StringComparer.Ordinal)
    {
        "BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F64",
        "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64",
    };

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;
    private readonly Dictionary<string, TensorInfo> _tensors;

    private SafetensorsFile(string path, long fileLength, long dataStart, Dictionary<string, TensorInfo> tensors,
        IReadOnlyDictionary<string, string> metadata, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        FilePath = path;
        FileLength = fileLength;
        DataStart = dataStart;
        _tensors = tensors;
        Metadata = metadata;
        _map = map;
        _view = view;
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
    }

    public string FilePath { get; }
    public long FileLength { get; }

    /// <summary>Absolute offset of the data section (8 + header length).</summary>
    public long DataStart { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IReadOnlyCollection<TensorInfo> Tensors => _tensors.Values;

    public bool TryGet(string name, out TensorInfo info) => _tensors.TryGetValue(name, out info!);

    /// <summary>The tensor's bytes in the mapped file; valid until this file is disposed.</summary>
    public WeightBytes GetBytes(TensorInfo info)
    {
        if (_base == null) throw new ObjectDisposedException(FilePath);
        if (!_tensors.TryGetValue(info.Name, out var own) || own.FileOffset != info.FileOffset)
            throw new ArgumentException($"Tensor {info.Name} is not in {FilePath}.");
        return new WeightBytes(_base + info.FileOffset, info.ByteCount);
    }

    /// <summary>Opens and validates <paramref name="path"/>. Never writes to it.</summary>
    public static SafetensorsFile Open(string path)
    {
        path = Path.GetFullPath(path);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, FileOptions.RandomAccess);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NnlModelFormatException(path, $"cannot open the file: {e.Message}", inner: e);
        }

        try
        {
            var fileLength = stream.Length;
            var (dataStart, tensors, metadata) = ReadHeader(path, stream, fileLength);
            var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            try
            {
                var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
                return new SafetensorsFile(path, fileLength, dataStart, tensors, metadata, map, view);
            }
            catch
            {
                map.Dispose();
                throw;
            }
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private static (long DataStart, Dictionary<string, TensorInfo> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadHeader(
        string path, FileStream stream, long fileLength)
    {
        if (fileLength < 8)
            throw new NnlModelFormatException(path, $"the file is truncated: {fileLength} bytes, fewer than the 8-byte header length", byteOffset: 0);

        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        var headerLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(fileLength - 8))
            throw new NnlModelFormatException(path, $"header length {headerLength} reaches beyond the end of the file ({fileLength} bytes)", byteOffset: 0);
        if (headerLength > MaxHeaderBytes)
            throw new NnlModelFormatException(path, $"header length {headerLength} exceeds the format's limit of {MaxHeaderBytes} bytes", byteOffset: 0);
        if (headerLength < 2)
            throw new NnlModelFormatException(path, $"header length {headerLength} is too small for a JSON object", byteOffset: 0);

        var header = new byte[headerLength];
        stream.ReadExactly(header);
        var dataStart = 8 + (long)headerLength;
        var dataLength = fileLength - dataStart;

        JsonDocument doc;
        try
        {
            // The format pads the header with trailing spaces; JSON allows them.
            doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            var at = 8 + (e.LineNumber == 0 ? (e.BytePositionInLine ?? 0) : 0);
            throw new NnlModelFormatException(path, $"the header is not valid JSON ({e.Message})", byteOffset: at, inner: e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new NnlModelFormatException(path, $"the header is a JSON {doc.RootElement.ValueKind}, not an object", byteOffset: 8);

            var tensors = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
            var ranges = new List<(long Begin, long End, string Name)>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    if (entry.Value.ValueKind != JsonValueKind.Object)
                        throw new NnlModelFormatException(path, "__metadata__ is not an object", byteOffset: 8);
                    foreach (var m in entry.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    continue;
                }
                if (tensors.ContainsKey(entry.Name))
                    throw new NnlModelFormatException(path, "the tensor appears twice in the header", byteOffset: 8, tensorName: entry.Name);
                var info = ParseTensor(path, entry, dataStart, dataLength);
                tensors.Add(entry.Name, info);
                ranges.Add((info.FileOffset - dataStart, info.FileOffset - dataStart + info.ByteCount, entry.Name));
            }

            // Byte ranges must not overlap (empty tensors occupy nothing).
            ranges.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            (long Begin, long End, string Name)? previous = null;
            foreach (var r in ranges)
            {
                if (r.End == r.Begin) continue;
                if (previous is { } p && r.Begin < p.End)
                    throw new NnlModelFormatException(path,
                        $"data range [{r.Begin}, {r.End}) overlaps tensor '{p.Name}' at [{p.Begin}, {p.End})",
                        byteOffset: dataStart + r.Begin, tensorName: r.Name);
                previous = r;
            }
            return (dataStart, tensors, metadata);
        }
    }

    private static TensorInfo ParseTensor(string path, JsonProperty entry, long dataStart, long dataLength)
    {
        var name = entry.Name;
        NnlModelFormatException Bad(string message, long? offset = null) => new(path, message, byteOffset: offset ?? 8, tensorName: name);

        if (entry.Value.ValueKind != JsonValueKind.Object) throw Bad("the entry is not an object");
        if (!entry.Value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Bad("dtype is missing or not a string");
        if (!entry.Value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw Bad("shape is missing or not an array");
        if (!entry.Value.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
            throw Bad("data_offsets is missing or not a [begin, end] pair");

        var dtypeName = dtypeElement.GetString()!;
        TensorDType dtype = dtypeName switch
        {
            "F32" => TensorDType.F32,
            "F16" => TensorDType.F16,
            "BF16" => TensorDType.BF16,
            _ when KnownUnsupportedDTypes.Contains(dtypeName) => throw Bad($"dtype {dtypeName} is not supported (Nnl reads F32, F16 and BF16)"),
            _ => throw Bad($"unknown dtype '{dtypeName}'"),
        };

        var shape = new long[shapeElement.GetArrayLength()];
        var i = 0;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var v) || v < 0)
                throw Bad($"shape entry {d.GetRawText()} is not a non-negative integer");
            shape[i++] = v;
        }

        var offsets = offsetsElement.EnumerateArray().ToArray();
        if (offsets[0].ValueKind != JsonValueKind.Number || !offsets[0].TryGetInt64(out var begin) || begin < 0
            || offsets[1].ValueKind != JsonValueKind.Number || !offsets[1].TryGetInt64(out var end) || end < 0)
            throw Bad($"data_offsets {offsetsElement.GetRawText()} are not non-negative integers");
        if (end < begin) throw Bad($"data_offsets [{begin}, {end}] end before they begin", dataStart + Math.Min(begin, dataLength));

        long expected;
        try
        {
            expected = dtype.ElementBytes();
            foreach (var d in shape) expected = checked(expected * d);
        }
        catch (OverflowException)
        {
            throw Bad($"shape [{string.Join(", ", shape)}] has more elements than any file can hold");
        }
        if (end - begin != expected)
            throw Bad($"shape [{string.Join(", ", shape)}] × {dtypeName} is {expected} bytes but data_offsets [{begin}, {end}] span {end - begin}",
                dataStart + Math.Min(begin, dataLength));
        if (end > dataLength)
            throw Bad(begin >= dataLength
                    ? $"data range [{begin}, {end}) lies outside the data section of {dataLength} bytes (the file is truncated or the offsets are wrong)"
                    : $"the file is truncated: the tensor ends at data offset {end} but the data section has {dataLength} bytes",
                dataStart + Math.Min(begin, dataLength));

        return new TensorInfo(name, dtype, shape, path, dataStart + begin, expected);
    }

    public void Dispose()
    {
        if (_base != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _base = null;
        }
        _view.Dispose();
        _map.Dispose();
    }
}
