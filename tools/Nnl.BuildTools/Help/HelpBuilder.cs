using System.Text;

namespace Nnl.BuildTools.Help;

/// <summary>
/// build-help: docs/&lt;Verb-Noun&gt;.md → one MAML file; docs/about_*.md → about_*.help.txt beside it.
/// Every page is read before failing, so one run lists every broken page.
/// </summary>
public static class HelpBuilder
{
    public sealed record Result(IReadOnlyList<CommandHelp> Commands, IReadOnlyList<string> AboutFiles);

    public static int Run(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: build-help <docs-dir> <out-file (Nnl.PowerShell.dll-Help.xml)>");
            return 2;
        }
        try
        {
            var result = Build(args[0], args[1]);
            Console.WriteLine($"wrote help for {result.Commands.Count} cmdlet(s) to {args[1]} and {result.AboutFiles.Count} about topic(s)");
            return 0;
        }
        catch (HelpBuildException e)
        {
            foreach (var error in e.Errors) Console.Error.WriteLine($"error NNL0002: {error.Message}");
            return 1;
        }
    }

    /// <summary>Writes the MAML to <paramref name="outFile"/> and the about topics to its folder.</summary>
    public static Result Build(string docsDir, string outFile)
    {
        if (!Directory.Exists(docsDir))
            throw new HelpBuildException([new HelpPageException(docsDir, 0, "docs folder not found")]);
        var errors = new List<HelpPageException>();
        var commands = new List<CommandHelp>();
        var abouts = new List<(string Name, string Text)>();
        foreach (var page in Directory.GetFiles(docsDir, "*.md").OrderBy(f => f, StringComparer.Ordinal))
        {
            string name = Path.GetFileNameWithoutExtension(page);
            try
            {
                if (name.StartsWith("about_", StringComparison.OrdinalIgnoreCase))
                    abouts.Add((name, AboutTopicWriter.ToText(MarkdownDocument.Load(page))));
                else if (CommandHelpParser.IsCmdletName(name))
                    commands.Add(CommandHelpParser.Load(page));
                // Other pages (architecture.md, getting-started.md) are articles, not help topics.
            }
            catch (HelpPageException e)
            {
                errors.Add(e);
            }
        }
        if (errors.Count > 0) throw new HelpBuildException(errors);

        string outDir = Path.GetDirectoryName(Path.GetFullPath(outFile))!;
        Directory.CreateDirectory(outDir);
        MamlWriter.Write(commands, outFile);
        var aboutFiles = new List<string>();
        foreach (var (name, text) in abouts)
        {
            string path = Path.Combine(outDir, name + ".help.txt");
            File.WriteAllText(path, text, new UTF8Encoding(false));
            aboutFiles.Add(path);
        }
        return new Result(commands, aboutFiles);
    }
}

/// <summary>Every page problem found in one build-help run.</summary>
public sealed class HelpBuildException(IReadOnlyList<HelpPageException> errors)
    : Exception(string.Join(Environment.NewLine, errors.Select(e => e.Message)))
{
    public IReadOnlyList<HelpPageException> Errors { get; } = errors;
}
