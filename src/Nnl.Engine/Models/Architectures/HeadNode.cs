using Nnl.Engine.Runtime;

namespace Nnl.Engine.Models.Architectures;

/// <summary>The language-model head every architecture shares: the batch's output rows of the final hidden state × the output matrix [vocab, hidden].</summary>
internal static class HeadNode
{
    /// <summary>
    /// Appends the head node: it reads "final" and writes the logits, with the token embedding as its
    /// matrix when the config ties them (HF ties even when a file also stores lm_head), else lm_head.
    /// </summary>
    public static void Add(List<ComputationNode> nodes, TensorExpectations expect, ModelConfig config, NodeWeight tokenEmbedding, long vocab, long hidden)
    {
        NodeWeight head;
        if (config.TieWordEmbeddings)
        {
            head = new NodeWeight("output", tokenEmbedding.Tensor);
            expect.Tolerate("lm_head.weight");
        }
        else head = expect.Require("output", "lm_head.weight", vocab, hidden);
        nodes.Add(new ComputationNode(nodes.Count, ComputationNodeKind.Head, "head", -1, new[] { head },
            new[] { "final" }, new[] { ComputationTable.LogitsOutput }, new NodeWorkspace(4 * hidden, 0), 4 * vocab, 0));
    }

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
