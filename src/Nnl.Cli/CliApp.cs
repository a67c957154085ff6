using System.Reflection;
using Nnl.Engine;

namespace Nnl.Cli;

/// <summary>`nnl VERB [options]`: finds the verb, runs its command, prints records, maps errors to exit codes.</summary>
public static class CliApp
{
    public static IReadOnlyList<ICliVerb> Verbs { get; } = typeof(CliApp).Assembly.GetTypes()
        .Where(t => typeof(ICliVerb).IsAssignableFrom(t) && !t.IsAbstract && !t.IsInterface)
        .Select(t => (ICliVerb)Activator.CreateInstance(t)!)
        .OrderBy(v => v.Name, StringComparer.Ordinal)
        .ToArray();

    /// <summary>Options that take no value (everything else reads the next argument).</summary>
    private static readonly string[] FlagNames = ["json", "help", "verbose", "shmoo", "extended", "stream", "detailed", "timeline", "in-memory", "no-host-cache", "verify", "clear", "reset", "pinned-host", "by-event", "force"];

    public static int Run(string[] args, TextWriter output, TextWriter error, CancellationToken cancellation = default)
    {
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            output.WriteLine("nnl — run language models larger than GPU memory, and measure GPUs.");
            output.WriteLine();
            foreach (var v in Verbs) output.WriteLine($"  {v.Name,-12} {v.Summary}");
            output.WriteLine();
            output.WriteLine("nnl VERB --help shows a verb's options; --json prints one JSON object per line.");
            return args.Length == 0 ? 2 : 0;
        }
        var verb = Verbs.FirstOrDefault(v => string.Equals(v.Name, args[0], StringComparison.OrdinalIgnoreCase));
        if (verb is null)
        {
            error.WriteLine($"nnl: unknown verb '{args[0]}'. Verbs: {string.Join(", ", Verbs.Select(v => v.Name))}");
            return 2;
        }
        var parsed = new CliArgs(args[1..], FlagNames);
        if (parsed.Flag("help"))
        {
            output.WriteLine($"nnl {verb.Name} — {verb.Summary}");
            foreach (var line in verb.Options) output.WriteLine("  " + line);
            output.WriteLine("  --json       one JSON object per line instead of a table");
            return 0;
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        var sink = new CliSink(output, error, parsed.Json, cts.Token, progressLine: !Console.IsErrorRedirected) { Verbose = parsed.Flag("verbose") };
        try
        {
            var command = verb.CreateCommand(parsed);
            var unused = parsed.Unused.ToList();
            if (unused.Count > 0) throw new NnlArgumentException("--" + unused[0], $"'{verb.Name}' has no option --{unused[0]} (see nnl {verb.Name} --help)");
            command.Execute(sink);
            sink.Flush();
            return 0;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            sink.Flush();
            error.WriteLine("nnl: stopped");
            return 130;
        }
        catch (NnlException e)
        {
            sink.Flush();
            error.WriteLine($"nnl: error [{e.ErrorId}]: {e.Message}");
            return e is NnlArgumentException ? 2 : 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
