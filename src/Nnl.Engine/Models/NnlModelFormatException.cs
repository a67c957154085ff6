namespace Nnl.Engine.Models;

/// <summary>
/// A model directory or file that Nnl cannot read as what it claims to be: a malformed safetensors
/// header, a byte range that does not fit, a tensor the architecture does not expect, a config that
/// contradicts the tensors. The message names the file and the byte offset or tensor.
/// </summary>
public sealed class NnlModelFormatException : NnlException
{
    public NnlModelFormatException(string filePath, string message, long? byteOffset = null, string? tensorName = null, Exception? inner = null)
        : base(Compose(filePath, message, byteOffset, tensorName), inner)
    {
        FilePath = filePath;
        ByteOffset = byteOffset;
        TensorName = tensorName;
    }

    public string FilePath { get; }
    public long? ByteOffset { get; }
    public string? TensorName { get; }

    public override string ErrorId => "ModelFormatInvalid";
    public override string Category => "InvalidData";

    private static string Compose(string filePath, string message, long? byteOffset, string? tensorName)
    {
        var where = filePath;
        if (tensorName is not null) where += $", tensor '{tensorName}'";
        if (byteOffset is not null) where += $", byte offset {byteOffset}";
        return $"{where}: {message}";
    }
}
