using System.Buffers.Binary;
using System.Text;
using Nnl.Engine.Models;

namespace Nnl.Engine.Tests.Models;

public sealed class SafetensorsFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Random _rng = new(1234);

    public void Dispose() => _dir.Dispose();

    private float[] RandomValues(int n) => Enumerable.Range(0, n).Select(_ => (float)(_rng.NextDouble() * 2 - 1)).ToArray();

    [Fact]
    public void ReadsEveryTensorWithItsDtypeShapeAndBytes()
    {
        var tensors = new[]
        {
            new TestTensor("a", new long[] { 3, 5 }, RandomValues(15).Select(v => SafetensorsWriter.Round(v, TensorDType.F32)).ToArray()),
            new TestTensor("b.half", new long[] { 7 }, RandomValues(7).Select(v => SafetensorsWriter.Round(v, TensorDType.F16)).ToArray(), TensorDType.F16),
            new TestTensor("c.bf", new long[] { 2, 2, 3 }, RandomValues(12).Select(v => SafetensorsWriter.Round(v, TensorDType.BF16)).ToArray(), TensorDType.BF16),
        };
        var path = _dir.File("ok.safetensors");
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var before = File.ReadAllBytes(path);

        using (var file = SafetensorsFile.Open(path))
        {
            Assert.Equal("pt", file.Metadata["format"]);
            Assert.Equal(3, file.Tensors.Count);
            foreach (var t in tensors)
            {
                Assert.True(file.TryGet(t.Name, out var info));
                Assert.Equal(t.DType, info.DType);
                Assert.Equal(t.Shape, info.Shape);
                Assert.Equal(t.Values.Length * t.DType.ElementBytes(), info.ByteCount);
                var expected = SafetensorsWriter.Encode(t.Values, t.DType);
                var actual = file.GetBytes(info).Slice(0, (int)info.ByteCount).ToArray();
                Assert.Equal(expected, actual);
                // The absolute offset points at the same bytes in the file itself.
                Assert.Equal(expected, before.AsSpan((int)info.FileOffset, (int)info.ByteCount).ToArray());
            }
        }
        Assert.Equal(before, File.ReadAllBytes(path)); // never written
    }

    [Fact]
    public void OpensAFileThatIsReadOnly()
    {
        var path = _dir.File("ro.safetensors");
        SafetensorsWriter.Write(path, new[] { new TestTensor("x", new long[] { 4 }, RandomValues(4)) });
        File.SetAttributes(path, FileAttributes.ReadOnly);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead);
        try
        {
            using var file = SafetensorsFile.Open(path);
            Assert.Single(file.Tensors);
        }
        finally
        {
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.SetAttributes(path, FileAttributes.Normal);
        }
    }

    private NnlModelFormatException Bad(byte[] bytes, string name = "bad.safetensors")
    {
        var path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<NnlModelFormatException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Equal("ModelFormatInvalid", e.ErrorId);
        Assert.Equal("InvalidData", e.Category);
        Assert.Equal(Path.GetFullPath(path), e.FilePath);
        Assert.Contains(name, e.Message);
        return e;
    }

    private static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    [Fact]
    public void FileShorterThanTheLengthPrefixIsTruncated()
    {
        var e = Bad(new byte[] { 1, 2, 3 });
        Assert.Contains("truncated", e.Message);
        Assert.Equal(0, e.ByteOffset);
    }

    [Theory]
    [InlineData(1000UL)]
    [InlineData(1UL << 63)]
    [InlineData(ulong.MaxValue)]
    public void HeaderLengthBeyondTheFileFailsAtOffsetZero(ulong declared)
    {
        var bytes = SafetensorsWriter.Raw("{" + Entry("x", "F32", "[2]", 0, 8) + "}", new byte[8], declared);
        var e = Bad(bytes);
        Assert.Contains($"header length {declared}", e.Message);
        Assert.Contains("beyond the end of the file", e.Message);
        Assert.Equal(0, e.ByteOffset);
    }

    [Fact]
    public void InvalidJsonFailsInsideTheHeader()
    {
        var e = Bad(SafetensorsWriter.Raw("{\"x\": {\"dtype\": \"F32\", ", new byte[4]));
        Assert.Contains("not valid JSON", e.Message);
        Assert.True(e.ByteOffset >= 8);
    }

    [Fact]
    public void HeaderThatIsNotAnObjectFails()
    {
        var e = Bad(SafetensorsWriter.Raw("[1, 2, 3]", Array.Empty<byte>()));
        Assert.Contains("not an object", e.Message);
    }

    [Fact]
    public void UnknownDtypeIsNamed()
    {
        var e = Bad(SafetensorsWriter.Raw("{" + Entry("w", "F33", "[2]", 0, 8) + "}", new byte[8]));
        Assert.Contains("unknown dtype 'F33'", e.Message);
        Assert.Equal("w", e.TensorName);
    }

    [Theory]
    [InlineData("I64", 8)]
    [InlineData("F64", 8)]
    [InlineData("U8", 1)]
    public void UnsupportedDtypeIsReportedByName(string dtype, int size)
    {
        var e = Bad(SafetensorsWriter.Raw("{" + Entry("ids", dtype, "[2]", 0, 2 * size) + "}", new byte[2 * size]));
        Assert.Contains($"dtype {dtype} is not supported", e.Message);
        Assert.Equal("ids", e.TensorName);
    }

    [Fact]
    public void ShapeTimesDtypeDifferentFromTheRangeFails()
    {
        var e = Bad(SafetensorsWriter.Raw("{" + Entry("w", "F16", "[3, 2]", 0, 16) + "}", new byte[16]));
        Assert.Contains("12 bytes", e.Message);
        Assert.Contains("span 16", e.Message);
        Assert.Equal("w", e.TensorName);
    }

    [Fact]
    public void ShapeWhoseByteCountOverflowsFails()
    {
        var e = Bad(SafetensorsWriter.Raw("{" + Entry("w", "F32", "[4611686018427387904, 4]", 0, 8) + "}", new byte[8]));
        Assert.Contains("more elements than any file can hold", e.Message);
    }

    [Fact]
    public void NegativeShapeFails()
    {
        var e = Bad(SafetensorsWriter.Raw("{" + Entry("w", "F32", "[-2]", 0, 8) + "}", new byte[8]));
        Assert.Contains("not a non-negative integer", e.Message);
    }

    [Fact]
    public void RangeOutsideTheDataSectionFails()
    {
        var e = Bad(SafetensorsWriter.Raw("{" + Entry("a", "F32", "[2]", 0, 8) + "," + Entry("b", "F32", "[2]", 64, 72) + "}", new byte[16]));
        Assert.Contains("outside the data section of 16 bytes", e.Message);
        Assert.Equal("b", e.TensorName);
    }

    [Fact]
    public void RangeEndingBeforeItBeginsFails()
    {
        var e = Bad(SafetensorsWriter.Raw("{" + Entry("a", "F32", "[0]", 8, 0) + "}", new byte[16]));
        Assert.Contains("end before they begin", e.Message);
    }

    [Fact]
    public void OverlappingRangesFailNamingBothTensors()
    {
        var header = "{" + Entry("a", "F32", "[4]", 0, 16) + "," + Entry("b", "F32", "[2]", 8, 16) + "}";
        var e = Bad(SafetensorsWriter.Raw(header, new byte[16]));
        Assert.Contains("overlaps tensor", e.Message);
        Assert.Contains("'a'", e.Message);
        Assert.Equal("b", e.TensorName);
        Assert.NotNull(e.ByteOffset);
    }

    [Fact]
    public void DuplicateTensorNamesFail()
    {
        var header = "{" + Entry("a", "F32", "[2]", 0, 8) + "," + Entry("a", "F32", "[2]", 8, 16) + "}";
        var e = Bad(SafetensorsWriter.Raw(header, new byte[16]));
        Assert.Contains("appears twice", e.Message);
    }

    [Fact]
    public void TruncatedDataSectionFailsWithTheTensorAndOffset()
    {
        var full = SafetensorsWriter.Build(new[]
        {
            new TestTensor("first", new long[] { 8 }, RandomValues(8)),
            new TestTensor("second", new long[] { 8 }, RandomValues(8)),
        });
        var e = Bad(full[..^5]);
        Assert.Contains("truncated", e.Message);
        Assert.Equal("second", e.TensorName);
        Assert.NotNull(e.ByteOffset);
    }

    [Theory]
    [InlineData("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", "dtype is missing")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", "shape is missing")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", "data_offsets is missing")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", "data_offsets is missing")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",8]}}", "not non-negative integers")]
    [InlineData("{\"w\":17}", "not an object")]
    [InlineData("{\"__metadata__\":[1]}", "__metadata__ is not an object")]
    public void MalformedEntriesFail(string header, string message)
    {
        var e = Bad(SafetensorsWriter.Raw(header, new byte[8]));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void RandomGarbageNeverCrashesOrHangs()
    {
        // Fuzz: random bytes after a plausible length prefix must fail cleanly (or, rarely, parse).
        var rng = new Random(99);
        for (var i = 0; i < 200; i++)
        {
            var bytes = new byte[rng.Next(8, 200)];
            rng.NextBytes(bytes);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)rng.Next(0, bytes.Length));
            var path = _dir.File($"fuzz{i}.safetensors");
            File.WriteAllBytes(path, bytes);
            try { SafetensorsFile.Open(path).Dispose(); }
            catch (NnlModelFormatException) { }
        }
        // And a valid file with bytes flipped in its header.
        var good = SafetensorsWriter.Build(new[] { new TestTensor("w", new long[] { 3 }, RandomValues(3)) });
        for (var i = 8; i < good.Length - 12; i++)
        {
            var copy = (byte[])good.Clone();
            copy[i] = (byte)(copy[i] ^ (1 << rng.Next(8)));
            var path = _dir.File($"flip{i}.safetensors");
            File.WriteAllBytes(path, copy);
            try { SafetensorsFile.Open(path).Dispose(); }
            catch (NnlModelFormatException) { }
        }
        Assert.True(Encoding.UTF8.GetString(good, 8, 10).StartsWith('{'));
    }
}
