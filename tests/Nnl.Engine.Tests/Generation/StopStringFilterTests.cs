using Nnl.Engine.Generation;

namespace Nnl.Engine.Tests.Generation;

public sealed class StopStringFilterTests
{
    [Fact]
    public void HoldsBackAPossibleStartUntilDecided()
    {
        var f = new StopStringFilter(new[] { "###" });
        Assert.Equal("ab", f.Push("ab#"));
        Assert.Equal("#x", f.Push("x"));      // "#x" cannot start "###": released
        Assert.Equal("", f.Push("##"));
        Assert.Equal("", f.Push("#tail"));    // completes "###": stop, nothing of it shown
        Assert.True(f.Stopped);
        Assert.Equal("", f.Push("more"));
        Assert.Equal("", f.Flush());
    }

    [Fact]
    public void EarliestOfSeveralStopStringsWins()
    {
        var f = new StopStringFilter(new[] { "END", "\n\n" });
        Assert.Equal("one\ntwo", f.Push("one\ntwo\n\nthree END"));
        Assert.True(f.Stopped);
    }

    [Fact]
    public void HeldBackTextComesOutAtTheEnd()
    {
        var f = new StopStringFilter(new[] { "stop" });
        Assert.Equal("go ", f.Push("go st"));
        Assert.Equal("st", f.Flush());
        Assert.False(f.Stopped);
    }

    [Fact]
    public void WithoutStopStringsEverythingPassesAtOnce()
    {
        var f = new StopStringFilter(Array.Empty<string>());
        Assert.Equal("abc", f.Push("abc"));
        Assert.Equal("", f.Flush());
    }
}
