using Nnl.Engine.Commands;

namespace Nnl.Cli;

/// <summary>
/// One `nnl` sub-command. Verbs are found by reflection, so adding a file adds a verb. A verb turns
/// its arguments into an engine command; CliApp runs it, prints records and maps errors.
/// </summary>
public interface ICliVerb
{
    string Name { get; }

    /// <summary>One line for `nnl help`.</summary>
    string Summary { get; }

    /// <summary>Option lines for `nnl VERB --help` ("--index N   device ordinal, repeatable").</summary>
    IReadOnlyList<string> Options { get; }

    /// <summary>Options of this verb that take no value (`--force`); every other option reads the next argument.</summary>
    IReadOnlyList<string> Flags => [];

    /// <summary>Builds the engine command; throws NnlArgumentException for bad arguments.</summary>
    INnlCommand CreateCommand(CliArgs args);
}
