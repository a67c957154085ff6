using Nnl.Engine.Runtime;

namespace Nnl.Engine.Models.Architectures;

/// <summary>The language-model head every architecture shares: the batch's output rows of the final hidden state × the output matrix [vocab, hidden].</summary>
internal static class HeadNode
{
    public static void Execute(BackendTensor output, ForwardContext ctx, string input)
    {
        var be = ctx.Backend;
        var x = ctx.Get(input);
        var rows = ctx.Batch.Host.OutputRows;
        var allRowsInOrder = rows.Length == ctx.Rows && rows.Select((r, i) => r == i).All(b => b);
        var selected = x;
        if (!allRowsInOrder)
        {
            selected = ctx.Temporary("head.rows", x.Columns, rows.Length);
            be.GatherRows(x, ctx.Batch, selected);
        }
        var logits = ctx.Allocate(ComputationTable.LogitsOutput, output.Rows, rows.Length);
        be.MatMul(selected, output, WeightLayout.Linear, null, logits);
        ctx.Set(ComputationTable.LogitsOutput, logits);
    }
}
