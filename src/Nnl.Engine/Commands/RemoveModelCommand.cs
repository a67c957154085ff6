using Nnl.Engine.Generation;

namespace Nnl.Engine.Commands;

/// <summary>Remove-NnlModel: releases what a loaded model holds (weights, mapped files, device memory). Removing twice is harmless.</summary>
public sealed class RemoveModelCommand : INnlCommand
{
    public required IReadOnlyList<NnlModel> Model { get; init; }

    public void Execute(ICommandSink sink)
    {
        foreach (var m in Model)
        {
            if (m is null) throw new NnlArgumentException(nameof(Model), "A model is required.");
            if (!m.IsLoaded) sink.WriteVerbose($"{m.Name} was already removed.");
            m.Session?.Dispose();
            sink.WriteVerbose($"Removed {m.Name} ({m.Path}).");
        }
    }
}
