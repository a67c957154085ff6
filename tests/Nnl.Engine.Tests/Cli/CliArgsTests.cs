using Nnl.Cli;

namespace Nnl.Engine.Tests.Cli;

public class CliArgsTests
{
    [Theory]
    [InlineData("64MB", 64L << 20)]
    [InlineData("1gb", 1L << 30)]
    [InlineData("1.5GB", 3L << 29)]
    [InlineData("4096", 4096)]
    [InlineData("2KiB", 2048)]
    [InlineData("10B", 10)]
    public void SizesParseAsPowerShellLiteralsDo(string text, long bytes) => Assert.Equal(bytes, CliArgs.ParseBytes("--size", text));

    [Theory]
    [InlineData("")]
    [InlineData("MB")]
    [InlineData("12XB")]
    [InlineData("NaN")]
    public void BadSizesNameTheParameter(string text)
    {
        var e = Assert.Throws<NnlArgumentException>(() => CliArgs.ParseBytes("--size", text));
        Assert.Equal("--size", e.ParameterName);
    }

    [Fact]
    public void OptionsFlagsListsAndPositionalsAreSeparated()
    {
        var a = new CliArgs(["model-dir", "--size", "1MB,2MB", "--size=3MB", "--json", "--iterations", "7", "extra"], ["json"]);
        Assert.Equal([1L << 20, 2L << 20, 3L << 20], a.BytesList("size"));
        Assert.True(a.Json);
        Assert.Equal(7, a.Int("iterations"));
        Assert.Equal(["model-dir", "extra"], a.Positional);
        Assert.Null(a.Int("missing"));
    }

    [Fact]
    public void AnUnknownOptionIsAnError()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int rc = CliApp.Run(["device", "--indx", "0"], output, error);
        Assert.Equal(2, rc);
        Assert.Contains("--indx", error.ToString());
    }

    [Fact]
    public void TablesAlignColumnsAndJsonKeepsEveryProperty()
    {
        var records = new object[] { new Sample("a", 1.5, 10), new Sample("longer-name", 123.25, 2) };
        string table = CliOutput.Table(records);
        var lines = table.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("Name", lines[0]);
        Assert.Equal(lines[2].Length, lines[3].Length);
        Assert.Contains("123.2", table);
        Assert.Equal("{\"Name\":\"a\",\"GBps\":1.5,\"Count\":10}", CliOutput.ToJson(records[0]));
    }

    private sealed record Sample(string Name, double GBps, int Count);
}
