namespace Nnl.Engine.Tests.Offload;

/// <summary>How the GPU engine's logits are held against a reference: per row, relative L2 error.</summary>
internal static class LogitAssertions
{
    public static int Argmax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /// <summary>Each row of <paramref name="vocab"/> logits within 1e-2 relative L2 error of the reference, no NaN.</summary>
    public static void AssertClose(float[] expected, float[] actual, int vocab, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int row = 0; row < expected.Length / vocab; row++)
        {
            double err = 0, norm = 0;
            for (int j = 0; j < vocab; j++)
            {
                double d = actual[row * vocab + j] - expected[row * vocab + j];
                Assert.False(double.IsNaN(d), $"{what}: NaN at row {row}");
                err += d * d;
                norm += (double)expected[row * vocab + j] * expected[row * vocab + j];
            }
            double rel = Math.Sqrt(err / norm);
            Assert.True(rel <= 1e-2, $"{what}, row {row}: relative error {rel:G3}");
        }
    }
}
