using Nnl.Engine.Runtime;

namespace Nnl.Engine.Models.Architectures;

/// <summary>Inverse rotary frequencies of a config, scaling included (as transformers' rope utilities compute them).</summary>
public static class RotaryFrequencies
{
    public static RotaryEmbedding For(ModelConfig config)
    {
        var dim = config.HeadDim;
        var inv = new double[dim / 2];
        for (var i = 0; i < inv.Length; i++) inv[i] = 1.0 / Math.Pow(config.RopeTheta, 2.0 * i / dim);

        switch (config.RopeScaling)
        {
            case null:
                break;
            case { RopeType: "linear" } s:
                for (var i = 0; i < inv.Length; i++) inv[i] /= s.Factor;
                break;
            case { RopeType: "llama3" } s:
                // Llama 3.1: long wavelengths slow down by the factor, short ones stay, a smooth ramp between.
                var lowWavelen = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
                var highWavelen = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
                for (var i = 0; i < inv.Length; i++)
                {
                    var wavelen = 2 * Math.PI / inv[i];
                    if (wavelen < highWavelen) continue;
                    if (wavelen > lowWavelen) { inv[i] /= s.Factor; continue; }
                    var smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                    inv[i] = (1 - smooth) * inv[i] / s.Factor + smooth * inv[i];
                }
                break;
            default:
                throw new NnlModelFormatException(config.SourcePath, $"rope_type \"{config.RopeScaling.RopeType}\" is not supported");
        }
        return new RotaryEmbedding(dim, inv.Select(v => (float)v).ToArray());
    }
}
