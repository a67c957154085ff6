using System.Text.RegularExpressions;
using Nnl.Engine.Runtime;

namespace Nnl.Engine.Models.Architectures;

/// <summary>
/// GPT-2 (gpt2 … gpt2-xl): token + learned position embedding; per block
/// LayerNorm → fused QKV (Conv1D) → causal attention → Conv1D projection → residual,
/// LayerNorm → Conv1D → gelu_new → Conv1D → residual; final LayerNorm; head tied to the token embedding.
/// </summary>
public sealed partial class Gpt2Architecture : IModelArchitecture
{
    private readonly float _epsilon;
    private readonly AttentionShape _attention;

    public Gpt2Architecture(ModelConfig config)
    {
        if (config.Family != ModelFamily.Gpt2) throw new ArgumentException($"{config.Architecture} is not GPT-2.", nameof(config));
        Config = config;
        _epsilon = (float)config.NormEpsilon;
        _attention = new AttentionShape(config.HeadCount, config.KvHeadCount, config.HeadDim, 1f / MathF.Sqrt(config.HeadDim));
    }

    public string Name => "GPT2LMHeadModel";
    public ModelConfig Config { get; }

    public ComputationTable BuildTable(WeightCatalog weights)
    {
        var config = Config;
        var h = (long)config.HiddenSize;
        var inner = (long)config.IntermediateSize;
        var vocab = (long)config.VocabSize;
        // save_pretrained of GPT2LMHeadModel prefixes "transformer."; the original hub files do not.
        var p = weights.Contains("transformer.wte.weight") ? "transformer." : "";
        var expect = new TensorExpectations(config, weights);
        var nodes = new List<ComputationNode>();

        var wte = expect.Require("token_embd", p + "wte.weight", vocab, h);
        var wpe = expect.Require("position_embd", p + "wpe.weight", config.MaxPositions, h);
        nodes.Add(new ComputationNode(0, ComputationNodeKind.Embedding, "embedding", -1, new[] { wte, wpe },
            new[] { ComputationTable.TokensInput }, new[] { Hidden(0) },
            new NodeWorkspace(4 * h, 0), 4 * h, 0));

        for (var l = 0; l < config.LayerCount; l++)
        {
            var b = $"{p}h.{l}.";
            var w = new[]
            {
                expect.Require("attn_norm", b + "ln_1.weight", h),
                expect.Require("attn_norm_bias", b + "ln_1.bias", h),
                expect.Require("attn_qkv", b + "attn.c_attn.weight", h, 3 * h) with { ProductLayout = WeightLayout.Conv1D },
                expect.Require("attn_qkv_bias", b + "attn.c_attn.bias", 3 * h),
                expect.Require("attn_output", b + "attn.c_proj.weight", h, h) with { ProductLayout = WeightLayout.Conv1D },
                expect.Require("attn_output_bias", b + "attn.c_proj.bias", h),
                expect.Require("ffn_norm", b + "ln_2.weight", h),
                expect.Require("ffn_norm_bias", b + "ln_2.bias", h),
                expect.Require("ffn_up", b + "mlp.c_fc.weight", h, inner) with { ProductLayout = WeightLayout.Conv1D },
                expect.Require("ffn_up_bias", b + "mlp.c_fc.bias", inner),
                expect.Require("ffn_down", b + "mlp.c_proj.weight", inner, h) with { ProductLayout = WeightLayout.Conv1D },
                expect.Require("ffn_down_bias", b + "mlp.c_proj.bias", h),
            };
            // Temporaries per row: norm, qkv (q, k and v are views of it), attention, norm 2, MLP up.
            var perRow = 4 * (h + 3 * h + h + h + inner);
            nodes.Add(new ComputationNode(nodes.Count, ComputationNodeKind.TransformerBlock, $"blk.{l}", l, w,
                new[] { Hidden(l) }, new[] { Hidden(l + 1) },
                new NodeWorkspace(perRow, 4L * config.HeadCount), 4 * h, 2 * 4 * h));
        }

        var lnf = new[]
        {
            expect.Require("output_norm", p + "ln_f.weight", h),
            expect.Require("output_norm_bias", p + "ln_f.bias", h),
        };
        nodes.Add(new ComputationNode(nodes.Count, ComputationNodeKind.FinalNorm, "final_norm", -1, lnf,
            new[] { Hidden(config.LayerCount) }, new[] { "final" }, new NodeWorkspace(0, 0), 4 * h, 0));

        HeadNode.Add(nodes, expect, config, wte, vocab, h);

        // Old checkpoints saved the causal-mask buffers; they carry no weights.
        expect.CheckNothingElse(name => MaskBuffer().IsMatch(name));
        return new ComputationTable(this, nodes, new KvCacheShape(config.LayerCount, config.KvWidth));
    }

    [GeneratedRegex(@"^(transformer\.)?h\.\d+\.attn\.(masked_)?bias$")]
    private static partial Regex MaskBuffer();

    private static string Hidden(int layer) => $"hidden.{layer}";

    public void Execute(ComputationNode node, NodeWeights w, ForwardContext ctx)
    {
        var be = ctx.Backend;
        switch (node.Kind)
        {
            case ComputationNodeKind.Embedding:
            {
                var h = w["token_embd"].Columns;
                var x = ctx.Allocate(Hidden(0), h);
                be.EmbeddingLookup(w["token_embd"], ctx.Batch, EmbeddingIndex.Token, x);
                var pos = ctx.Temporary("position_embd", h);
                be.EmbeddingLookup(w["position_embd"], ctx.Batch, EmbeddingIndex.Position, pos);
                be.Add(x, pos, x);
                ctx.Set(Hidden(0), x);
                break;
            }
            case ComputationNodeKind.TransformerBlock:
                Block(node, w, ctx);
                break;
            case ComputationNodeKind.FinalNorm:
            {
                var x = ctx.Get(node.Inputs[0]);
                var y = ctx.Allocate("final", x.Columns);
                be.LayerNorm(x, w["output_norm"], w["output_norm_bias"], _epsilon, y);
                ctx.Set("final", y);
                break;
            }
            case ComputationNodeKind.Head:
                HeadNode.Execute(w["output"], ctx, node.Inputs[0]);
                break;
            default:
                throw new InvalidOperationException($"GPT-2 has no node of kind {node.Kind}.");
        }
    }

    /// <summary>
    /// The block as one backend operation (<see cref="IComputeBackend.DecoderBlock"/>: one kernel on a
    /// GPU's decode path, six composed operations otherwise). The block's input becomes its output in
    /// place (nothing else reads it), so the residual adds need no copy.
    /// </summary>
    private void Block(ComputationNode node, NodeWeights w, ForwardContext ctx)
    {
        var l = node.Layer;
        var y = ctx.Take(node.Inputs[0]);
        ctx.Set(node.Outputs[0], y);
        var h = y.Columns;
        var weights = new DecoderBlockWeights(
            RowNorm.Layer(w["attn_norm"], w["attn_norm_bias"], _epsilon), w["attn_qkv"], w["attn_qkv_bias"], w["attn_output"], w["attn_output_bias"],
            RowNorm.Layer(w["ffn_norm"], w["ffn_norm_bias"], _epsilon), w["ffn_up"], w["ffn_up_bias"], w["ffn_down"], w["ffn_down_bias"],
            WeightLayout.Conv1D);
        var scratch = new DecoderBlockScratch(
            ctx.Temporary($"blk.{l}.attn_norm", h), ctx.Temporary($"blk.{l}.qkv", 3 * h), ctx.Temporary($"blk.{l}.attn", h),
            ctx.Temporary($"blk.{l}.ffn_norm", h), ctx.Temporary($"blk.{l}.ffn_up", w["ffn_up"].Columns));
        ctx.Backend.DecoderBlock(y, weights, scratch, ctx.Cache.Keys(l), ctx.Cache.Values(l), ctx.Batch, _attention);
    }
}
