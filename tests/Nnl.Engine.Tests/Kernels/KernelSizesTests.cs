using System.Text.RegularExpressions;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// Sizes a kernel and its host code must agree on, stated once in each language: the host sizes
/// launches and shared memory by its constants, the kernel indexes by its #defines. A change to one
/// side alone would launch wrong sizes that only a GPU run catches; this reads the kernel sources.
/// </summary>
public class KernelSizesTests
{
    private static long Define(string file, string name)
    {
        string source = File.ReadAllText(Path.Combine(RepoPaths.Root, "kernels", file));
        var m = Regex.Match(source, $@"^#define {name} (\d+)\b", RegexOptions.Multiline);
        Assert.True(m.Success, $"kernels/{file} has no numeric #define {name}");
        return long.Parse(m.Groups[1].Value);
    }

    [Fact]
    public void TheWholeBlockKernelAndItsHostAgree()
    {
        Assert.Equal(CudaBackend.DecoderBlockThreads, Define("decoder_block.cu", "NNL_DB_THREADS"));
        Assert.Equal(CudaBackend.DecoderBlockMaxRows, Define("decoder_block.cu", "NNL_DB_MAX_ROWS"));
        Assert.Equal(CudaBackend.DecoderBlockQueueBytes,
            Define("decoder_block.cu", "NNL_DB_DEPTH") * Define("decoder_block.cu", "NNL_DB_VECTORS") * Define("decoder_block.cu", "NNL_DB_THREADS") * 16);
    }

    [Fact]
    public void TheRegisterGemvAndItsHostAgree() =>
        Assert.Equal(CudaBackend.RegisterGemvVectorsPerLane, Define("gemv_xreg.cu", "NNL_XR_VPL"));
}
