using System.Globalization;

namespace Nnl.Engine.Runtime;

/// <summary>Where a model runs: "Cpu", or a CUDA device written "Cuda", "Cuda:1", "cuda:1", "Gpu" or just "1".</summary>
public readonly record struct DeviceSpec(bool IsCpu, int Ordinal)
{
    public static DeviceSpec Cpu => new(true, -1);

    public static DeviceSpec Parse(string? text)
    {
        string s = (text ?? "Cpu").Trim();
        if (s.Equals("cpu", StringComparison.OrdinalIgnoreCase)) return Cpu;
        if (s.Equals("cuda", StringComparison.OrdinalIgnoreCase) || s.Equals("gpu", StringComparison.OrdinalIgnoreCase)) return new(false, 0);
        int colon = s.IndexOf(':');
        string number = colon >= 0 && (s[..colon].Equals("cuda", StringComparison.OrdinalIgnoreCase) || s[..colon].Equals("gpu", StringComparison.OrdinalIgnoreCase))
            ? s[(colon + 1)..] : s;
        if (int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out int ordinal)) return new(false, ordinal);
        throw new NnlArgumentException("Device", $"'{text}' is not a device: use Cpu, Cuda, Cuda:N or a GPU index N");
    }

    public override string ToString() => IsCpu ? "Cpu" : $"Cuda:{Ordinal}";
}
