namespace Nnl.BuildTools.Help;

/// <summary>One cmdlet's help, as read from docs/&lt;Verb-Noun&gt;.md. Text is kept as paragraphs.</summary>
public sealed record CommandHelp(
    string Name,
    string SourceFile,
    IReadOnlyList<string> Synopsis,
    IReadOnlyList<string> Description,
    IReadOnlyList<SyntaxHelp> Syntax,
    IReadOnlyList<ExampleHelp> Examples,
    IReadOnlyList<ParameterHelp> Parameters,
    IReadOnlyList<TypeHelp> Inputs,
    IReadOnlyList<TypeHelp> Outputs,
    IReadOnlyList<string> Notes,
    IReadOnlyList<RelatedLink> RelatedLinks)
{
    public string Verb => Name[..Name.IndexOf('-')];
    public string Noun => Name[(Name.IndexOf('-') + 1)..];
}

/// <summary>A parameter set's syntax line as the page shows it; MAML rebuilds it from the parameters.</summary>
public sealed record SyntaxHelp(string ParameterSet, bool IsDefault, string Text);

public sealed record ExampleHelp(string Title, string Code, IReadOnlyList<string> Remarks);

/// <summary>"### -Name": description paragraphs, and one yaml block per group of parameter sets.</summary>
public sealed record ParameterHelp(string Name, int Line, IReadOnlyList<string> Description, IReadOnlyList<ParameterMetadata> Metadata)
{
    /// <summary>The yaml block that covers <paramref name="parameterSet"/>, or null.</summary>
    public ParameterMetadata? For(string parameterSet) =>
        Metadata.FirstOrDefault(m => m.ParameterSets.Contains(parameterSet, StringComparer.OrdinalIgnoreCase))
        ?? Metadata.FirstOrDefault(m => m.AllSets);
}

/// <summary>The yaml block under a parameter, field by field as platyPS writes it.</summary>
public sealed record ParameterMetadata(
    string Type,
    IReadOnlyList<string> ParameterSets,
    IReadOnlyList<string> Aliases,
    bool Required,
    string Position,
    string DefaultValue,
    string PipelineInput,
    bool AcceptsWildcards)
{
    public bool AllSets => ParameterSets.Count == 1 && ParameterSets[0] == "(All)";
    public bool IsSwitch => Type is "SwitchParameter" or "System.Management.Automation.SwitchParameter";
}

public sealed record TypeHelp(string Name, IReadOnlyList<string> Description);

public sealed record RelatedLink(string Text, string Uri);
