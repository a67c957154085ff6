namespace Nnl.Engine.Tests.BuildTools;

/// <summary>Help pages in platyPS format for the converter tests, written as platyPS writes them.</summary>
internal static class SampleHelpPages
{
    /// <summary>Two parameter sets, a positional array parameter, a switch, two examples, links.</summary>
    public const string MeasureNnlWidget = """
        ---
        external help file: Nnl.PowerShell.dll-Help.xml
        Module Name: Nnl
        online version: https://example.invalid/nnl/Measure-NnlWidget
        schema: 2.0.0
        ---

        # Measure-NnlWidget

        ## SYNOPSIS
        Measures how fast widgets
        spin.

        ## SYNTAX

        ### ByIndex (Default)
        ```
        Measure-NnlWidget [[-Index] <Int32[]>] [-Fast] [<CommonParameters>]
        ```

        ### ByName
        ```
        Measure-NnlWidget -Name <String> [-Fast] [<CommonParameters>]
        ```

        ## DESCRIPTION
        The first paragraph of the description.

        The second paragraph:
        - one item
        - another item

        ## EXAMPLES

        ### Example 1: Measure every widget
        ```powershell
        Measure-NnlWidget
        ```

        Measures all widgets and prints a table.

        ### Example 2: Pipe names
        ```powershell
        'a', 'b' |
            Measure-NnlWidget -Fast
        ```

        ```output
        Name Speed
        ---- -----
        a    1.5
        ```

        Shows the output too.

        ## PARAMETERS

        ### -Index
        Which widgets, by index.

        ```yaml
        Type: Int32[]
        Parameter Sets: ByIndex
        Aliases: Id, Number

        Required: False
        Position: 0
        Default value: All widgets
        Accept pipeline input: False
        Accept wildcard characters: False
        ```

        ### -Name
        The widget's name.

        ```yaml
        Type: String
        Parameter Sets: ByName
        Aliases:

        Required: True
        Position: Named
        Default value: None
        Accept pipeline input: True (ByValue)
        Accept wildcard characters: True
        ```

        ### -Fast
        Spin faster.

        ```yaml
        Type: SwitchParameter
        Parameter Sets: (All)
        Aliases:

        Required: False
        Position: Named
        Default value: False
        Accept pipeline input: False
        Accept wildcard characters: False
        ```

        ### CommonParameters
        This cmdlet supports the common parameters: -Debug, -ErrorAction, -ErrorVariable,
        -InformationAction, -InformationVariable, -OutVariable, -OutBuffer, -PipelineVariable,
        -Verbose, -WarningAction, and -WarningVariable. For more information, see
        [about_CommonParameters](http://go.microsoft.com/fwlink/?LinkID=113216).

        ## INPUTS

        ### System.String
        Widget names.

        ## OUTPUTS

        ### Nnl.Engine.NnlWidgetSpeed
        One record per widget.

        ## NOTES
        Widgets are imaginary.

        ## RELATED LINKS

        [Get-NnlDevice](Get-NnlDevice.md)

        [about_Nnl](https://example.invalid/nnl/about_Nnl)
        """;

    public const string AboutNnlWidget = """
        # about_NnlWidget

        ## SHORT DESCRIPTION
        Widgets in Nnl.

        ## LONG DESCRIPTION
        Widgets spin. This sentence is long enough that the about topic writer has to wrap it onto a second line of text.

        ```powershell
        Measure-NnlWidget -Fast
        ```

        ## SEE ALSO
        Measure-NnlWidget
        """;
}
