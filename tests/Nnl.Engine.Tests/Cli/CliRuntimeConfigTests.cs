using System.Text.Json;

namespace Nnl.Engine.Tests.Cli;

/// <summary>
/// nnl runs with tiered compilation off (Nnl.Cli.csproj): with it on, a decode step's host code ran
/// as tier-0 and instrumented code while tokens were timed and resident decode measured up to twice
/// as slow (docs/performance.md). The built runtime configuration must say so.
/// </summary>
public class CliRuntimeConfigTests
{
    [Fact]
    public void TheCliRunsWithTieredCompilationOff()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "nnl.runtimeconfig.json");
        Assert.True(File.Exists(path), $"{path} is missing: the tests reference the CLI, so its runtime configuration is copied beside them");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var properties = doc.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.True(properties.TryGetProperty("System.Runtime.TieredCompilation", out var tiered), "System.Runtime.TieredCompilation is not set");
        Assert.False(tiered.GetBoolean());
    }
}
