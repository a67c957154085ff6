namespace Nnl.Engine.Models.Synthetic;

/// <summary>How many bytes can still be written where a model is going (injected by tests to simulate a full disk).</summary>
public interface IFreeSpaceProvider
{
    /// <summary>Bytes available to this user on the file system holding <paramref name="directory"/> (which may not exist yet).</summary>
    long AvailableBytes(string directory);
}

/// <summary>Asks the file system (statvfs / GetDiskFreeSpaceEx through <see cref="DriveInfo"/>).</summary>
public sealed class DriveFreeSpaceProvider : IFreeSpaceProvider
{
    public static DriveFreeSpaceProvider Instance { get; } = new();

    public long AvailableBytes(string directory)
    {
        // The target may not exist yet: ask about the nearest ancestor that does.
        var probe = Path.GetFullPath(directory);
        while (!Directory.Exists(probe))
            probe = Path.GetDirectoryName(probe) ?? throw new NnlArgumentException("Path", $"no existing parent directory of '{directory}'.");
        return new DriveInfo(OperatingSystem.IsWindows() ? Path.GetPathRoot(probe)! : probe).AvailableFreeSpace;
    }
}

/// <summary>Refused before writing: the model would not fit on the disk.</summary>
public sealed class NnlDiskSpaceException : NnlException
{
    public NnlDiskSpaceException(string directory, long requiredBytes, long availableBytes)
        : base($"{directory}: the model needs {Gib(requiredBytes)} but only {Gib(availableBytes)} is free on that disk; " +
               "nothing was written. Choose another -Path, fewer -Layers, a smaller -DType, or -InMemory.")
    {
        Directory = directory;
        RequiredBytes = requiredBytes;
        AvailableBytes = availableBytes;
    }

    public string Directory { get; }
    public long RequiredBytes { get; }
    public long AvailableBytes { get; }

    public override string ErrorId => "InsufficientDiskSpace";
    public override string Category => "ResourceUnavailable";

    private static string Gib(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB" : $"{bytes / (double)(1 << 20):F1} MiB";
}
