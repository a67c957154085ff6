namespace Nnl.Engine.Tests;

/// <summary>Finds the repository root (the folder with Nnl.slnx) from the test binary's location.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Nnl.slnx"))) return dir.FullName;
        throw new InvalidOperationException("Nnl.slnx not found above " + AppContext.BaseDirectory);
    }

    public static string Fixtures => Path.Combine(AppContext.BaseDirectory, "Fixtures");
}
