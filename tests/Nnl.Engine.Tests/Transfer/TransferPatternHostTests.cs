using System.Runtime.InteropServices;
using Nnl.Engine.Transfer;

namespace Nnl.Engine.Tests.Transfer;

public class TransferPatternHostTests
{
    // lowbias32, written out again so the engine's copy is checked against an independent one.
    private static uint Lowbias32(uint x)
    {
        x ^= x >> 16; x *= 0x7feb352d;
        x ^= x >> 15; x *= 0x846ca68b;
        x ^= x >> 16;
        return x;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    [InlineData(100_003)]
    public unsafe void HostFillWritesLittleEndianHashWordsAndVerifyCountsEveryBadByte(int bytes)
    {
        uint seed = (uint)new Random(bytes).Next();
        IntPtr p = (IntPtr)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            TransferPattern.FillHost(p, bytes, seed);
            var span = new Span<byte>((void*)p, bytes);
            for (int i = 0; i < bytes; i += Math.Max(1, bytes / 997))
                Assert.Equal((byte)(Lowbias32((uint)(i / 4) ^ seed) >> (8 * (i % 4))), span[i]);
            Assert.Equal((byte)(Lowbias32((uint)((bytes - 1) / 4) ^ seed) >> (8 * ((bytes - 1) % 4))), span[bytes - 1]);
            Assert.Equal(0, TransferPattern.CountMismatchesHost(p, bytes, seed));

            span[bytes - 1] ^= 0x40; // the last byte: in the tail or in the last whole word
            long expected = bytes % 4 == 0 ? 4 : 1;
            Assert.Equal(expected, TransferPattern.CountMismatchesHost(p, bytes, seed));
            // Another seed is another pattern: a stale copy is caught.
            Assert.True(TransferPattern.CountMismatchesHost(p, bytes, seed ^ 1) > 0);
        }
        finally
        {
            NativeMemory.AlignedFree((void*)p);
        }
    }
}
