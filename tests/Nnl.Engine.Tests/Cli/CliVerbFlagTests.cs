using Nnl.Cli;
using Nnl.Engine.Commands;

namespace Nnl.Engine.Tests.Cli;

/// <summary>Verbs declare their own value-less options; CliApp parses with the union of them.</summary>
public class CliVerbFlagTests
{
    [Fact]
    public void EveryVerbsFlagsAndTheCommonOnesAreFlags()
    {
        foreach (var verb in CliApp.Verbs)
            foreach (var flag in verb.Flags)
                Assert.Contains(flag, CliApp.FlagNames);
        foreach (var common in new[] { "json", "help", "verbose" }) Assert.Contains(common, CliApp.FlagNames);
        // The flags the verbs had before they declared them themselves.
        foreach (var old in new[] { "shmoo", "extended", "stream", "detailed", "timeline", "in-memory", "no-host-cache", "verify", "clear", "reset", "pinned-host", "by-event", "force" })
            Assert.Contains(old, CliApp.FlagNames);
    }

    [Fact]
    public void EveryFlagAVerbDeclaresAppearsInItsHelp()
    {
        foreach (var verb in CliApp.Verbs)
            foreach (var flag in verb.Flags)
                Assert.True(verb.Options.Any(o => o.Contains("--" + flag, StringComparison.Ordinal)), $"nnl {verb.Name} --help does not mention --{flag}");
    }

    [Fact]
    public void TheModelVerbsAreListed()
    {
        var output = new StringWriter();
        Assert.Equal(0, CliApp.Run(["help"], output, new StringWriter()));
        foreach (var name in new[] { "generate", "tokenize", "detokenize" }) Assert.Contains($"  {name} ", output.ToString());
        var help = new StringWriter();
        Assert.Equal(0, CliApp.Run(["generate", "--help"], help, new StringWriter()));
        foreach (var option in new[] { "--prompt", "--device", "--max-gpu-memory", "--prefetch-depth", "--resident-layers", "--no-host-cache", "--context-length",
                     "--max-new-tokens", "--temperature", "--top-k", "--top-p", "--repetition-penalty", "--seed", "--stop", "--stream" })
            Assert.Contains(option, help.ToString());
    }

    [Theory]
    [InlineData("auto", null)]
    [InlineData(" Auto ", null)]
    [InlineData("AUTO", null)]
    [InlineData(null, null)]
    [InlineData("0", 0)]
    [InlineData("12", 12)]
    [InlineData(" 40 ", 40)]
    public void ResidentLayersReadsACountOrAuto(string? text, int? expected) => Assert.Equal(expected, ResidentLayersArgument.Parse(text));

    [Theory]
    [InlineData("-1")]
    [InlineData("half")]
    [InlineData("1.5")]
    [InlineData("99999999999")]
    public void ResidentLayersRejectsAnythingElseNamingTheParameter(string text)
    {
        var e = Assert.Throws<NnlArgumentException>(() => ResidentLayersArgument.Parse(text, "--resident-layers"));
        Assert.Equal("--resident-layers", e.ParameterName);
        Assert.Contains(text, e.Message);
    }
}
