namespace Nnl.Engine.Models;

/// <summary>
/// Where one weight tensor lives: its name, element type, shape and its byte range in a
/// safetensors file. <see cref="FileOffset"/> is absolute (from the start of the file, header
/// included), so a disk reader or a pinned packer can read it with one positioned read.
/// </summary>
public sealed record TensorInfo(string Name, TensorDType DType, long[] Shape, string FilePath, long FileOffset, long ByteCount)
{
    /// <summary>Number of elements (product of the shape; 1 for a scalar).</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Shape) n *= d;
            return n;
        }
    }

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    public override string ToString() => $"{Name} {DType.SafetensorsName()} {ShapeText} ({ByteCount} bytes at {FileOffset} in {Path.GetFileName(FilePath)})";
}
