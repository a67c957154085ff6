using Nnl.Engine;

namespace Nnl.BuildTools.Help;

/// <summary>A help page that cannot become MAML; the message starts with "file:line:" like a compiler's.</summary>
public sealed class HelpPageException : NnlException
{
    public HelpPageException(string file, int line, string problem) : base($"{file}:{line}: {problem}")
    {
        File = file;
        Line = line;
        Problem = problem;
    }

    public string File { get; }
    public int Line { get; }
    public string Problem { get; }
    public override string ErrorId => "HelpPageInvalid";
    public override string Category => "ParserError";
}
