using System.Globalization;
using Nnl.Engine;

namespace Nnl.Cli;

/// <summary>
/// `--name value`, `--name=value`, `--flag` and positional arguments. Every option a verb reads is
/// marked used; options nobody read are reported as errors, so a typo never passes silently.
/// </summary>
public sealed class CliArgs
{
    private readonly Dictionary<string, List<string>> _options = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _used = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _flags = new(StringComparer.OrdinalIgnoreCase);

    public CliArgs(IEnumerable<string> args, IEnumerable<string>? flagNames = null)
    {
        foreach (var f in flagNames ?? []) _flags.Add(f);
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            string a = list[i];
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                string name = a[2..];
                string? value = null;
                int eq = name.IndexOf('=');
                if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
                else if (!_flags.Contains(name) && i + 1 < list.Count && !list[i + 1].StartsWith("--", StringComparison.Ordinal)) value = list[++i];
                if (!_options.TryGetValue(name, out var values)) _options[name] = values = new List<string>();
                values.Add(value ?? "true");
            }
            else Positional.Add(a);
        }
    }

    public List<string> Positional { get; } = new();

    public bool Has(string name) { _used.Add(name); return _options.ContainsKey(name); }

    public bool Flag(string name) => Has(name) && Last(name) is not ("false" or "0");

    public string? String(string name) => Has(name) ? Last(name) : null;

    /// <summary>All values of a repeatable or comma-separated option ("--size 1MB,64MB --size 1GB").</summary>
    public IReadOnlyList<string> List(string name) =>
        Has(name) ? _options[name].SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList() : [];

    public int? Int(string name) => String(name) is { } s ? ParseInt(name, s) : null;

    public double? Double(string name) => String(name) is { } s
        ? double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw new NnlArgumentException("--" + name, $"'{s}' is not a number")
        : null;

    public long? Bytes(string name) => String(name) is { } s ? ParseBytes("--" + name, s) : null;

    public IReadOnlyList<long> BytesList(string name) => List(name).Select(s => ParseBytes("--" + name, s)).ToList();

    public IReadOnlyList<int> IntList(string name) => List(name).Select(s => ParseInt(name, s)).ToList();

    public bool Json => Flag("json");

    /// <summary>Options given but never read by the verb.</summary>
    public IEnumerable<string> Unused => _options.Keys.Where(k => !_used.Contains(k));

    private string Last(string name) => _options[name][^1];

    private static int ParseInt(string name, string s) =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw new NnlArgumentException("--" + name, $"'{s}' is not an integer");

    /// <summary>
    /// Sizes as PowerShell writes them (64MB = 64·2^20, 1GB = 2^30) and as decimal units with a
    /// trailing B in lower-case letters after the digit ("64mb" is binary too: PowerShell is
    /// case-insensitive), plus plain byte counts and an explicit "KiB/MiB/GiB".
    /// </summary>
    public static long ParseBytes(string parameter, string text)
    {
        string s = text.Trim();
        long multiplier = 1;
        foreach (var (suffix, factor) in Suffixes)
        {
            if (s.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                multiplier = factor;
                s = s[..^suffix.Length];
                break;
            }
        }
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || double.IsNaN(value))
            throw new NnlArgumentException(parameter, $"'{text}' is not a size (examples: 4096, 64MB, 1.5GB)");
        double bytes = value * multiplier;
        if (bytes > long.MaxValue || bytes < long.MinValue) throw new NnlArgumentException(parameter, $"'{text}' is too large");
        return (long)Math.Round(bytes);
    }

    private static readonly (string, long)[] Suffixes =
    [
        ("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("TiB", 1L << 40),
        ("KB", 1L << 10), ("MB", 1L << 20), ("GB", 1L << 30), ("TB", 1L << 40), ("B", 1),
    ];
}
