using System.Text.RegularExpressions;
using Nnl.Engine.Runtime;

namespace Nnl.Engine.Models.Architectures;

/// <summary>
/// The Llama family (Llama 2/3, Mistral, Qwen2): token embedding; per block
/// RMSNorm → q/k/v projections (biases for Qwen2) → rotary → causal grouped-query attention over the
/// KV cache → output projection → residual, RMSNorm → silu(gate)·up → down → residual;
/// final RMSNorm; head (lm_head, or the embedding when tied).
/// </summary>
public sealed partial class LlamaArchitecture : IModelArchitecture
{
    private readonly float _epsilon;
    private readonly AttentionShape _attention;
    private readonly RotaryEmbedding _rope;

    public LlamaArchitecture(ModelConfig config)
    {
        if (config.Family != ModelFamily.Llama) throw new ArgumentException($"{config.Architecture} is not of the Llama family.", nameof(config));
        Config = config;
        _epsilon = (float)config.NormEpsilon;
        _attention = new AttentionShape(config.HeadCount, config.KvHeadCount, config.HeadDim, 1f / MathF.Sqrt(config.HeadDim), config.SlidingWindow);
        _rope = RotaryFrequencies.For(config);
    }

    public string Name => Config.Architecture;
    public ModelConfig Config { get; }
    public RotaryEmbedding Rope => _rope;

    public ComputationTable BuildTable(WeightCatalog weights)
    {
        var c = Config;
        long h = c.HiddenSize, qw = c.QueryWidth, kw = c.KvWidth, inter = c.IntermediateSize, vocab = c.VocabSize;
        var expect = new TensorExpectations(c, weights);
        var nodes = new List<ComputationNode>();

        var embed = expect.Require("token_embd", "model.embed_tokens.weight", vocab, h);
        nodes.Add(new ComputationNode(0, ComputationNodeKind.Embedding, "embedding", -1, new[] { embed },
            new[] { ComputationTable.TokensInput }, new[] { Hidden(0) }, new NodeWorkspace(0, 0), 4 * h, 0));

        for (var l = 0; l < c.LayerCount; l++)
        {
            var b = $"model.layers.{l}.";
            var w = TensorExpectations.Present(
                expect.Require("attn_norm", b + "input_layernorm.weight", h),
                expect.Require("attn_q", b + "self_attn.q_proj.weight", qw, h),
                expect.RequireIf(c.QkvBias, "attn_q_bias", b + "self_attn.q_proj.bias", qw),
                expect.Require("attn_k", b + "self_attn.k_proj.weight", kw, h),
                expect.RequireIf(c.QkvBias, "attn_k_bias", b + "self_attn.k_proj.bias", kw),
                expect.Require("attn_v", b + "self_attn.v_proj.weight", kw, h),
                expect.RequireIf(c.QkvBias, "attn_v_bias", b + "self_attn.v_proj.bias", kw),
                expect.Require("attn_output", b + "self_attn.o_proj.weight", h, qw),
                expect.RequireIf(c.OutputProjectionBias, "attn_output_bias", b + "self_attn.o_proj.bias", h),
                expect.Require("ffn_norm", b + "post_attention_layernorm.weight", h),
                expect.Require("ffn_gate", b + "mlp.gate_proj.weight", inter, h),
                expect.RequireIf(c.MlpBias, "ffn_gate_bias", b + "mlp.gate_proj.bias", inter),
                expect.Require("ffn_up", b + "mlp.up_proj.weight", inter, h),
                expect.RequireIf(c.MlpBias, "ffn_up_bias", b + "mlp.up_proj.bias", inter),
                expect.Require("ffn_down", b + "mlp.down_proj.weight", h, inter),
                expect.RequireIf(c.MlpBias, "ffn_down_bias", b + "mlp.down_proj.bias", h));
            // Temporaries per row: norm, q, k, v, attention, norm 2, gate, up.
            var perRow = 4 * (h + qw + kw + kw + qw + h + inter + inter);
            nodes.Add(new ComputationNode(nodes.Count, ComputationNodeKind.TransformerBlock, $"blk.{l}", l, w,
                new[] { Hidden(l) }, new[] { Hidden(l + 1) },
                new NodeWorkspace(perRow, 4L * c.HeadCount), 4 * h, 2 * 4 * kw));
        }

        var norm = expect.Require("output_norm", "model.norm.weight", h);
        nodes.Add(new ComputationNode(nodes.Count, ComputationNodeKind.FinalNorm, "final_norm", -1, new[] { norm },
            new[] { Hidden(c.LayerCount) }, new[] { "final" }, new NodeWorkspace(0, 0), 4 * h, 0));

        HeadNode.Add(nodes, expect, c, embed, vocab, h);

        // Older checkpoints saved the rotary inverse frequencies as a buffer; Nnl computes them.
        expect.CheckNothingElse(name => RotaryBuffer().IsMatch(name));
        return new ComputationTable(this, nodes, new KvCacheShape(c.LayerCount, c.KvWidth));
    }

    [GeneratedRegex(@"^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$")]
    private static partial Regex RotaryBuffer();

    private static string Hidden(int layer) => $"hidden.{layer}";

    public void Execute(ComputationNode node, NodeWeights w, ForwardContext ctx)
    {
        var be = ctx.Backend;
        switch (node.Kind)
        {
            case ComputationNodeKind.Embedding:
            {
                var x = ctx.Allocate(Hidden(0), w["token_embd"].Columns);
                be.EmbeddingLookup(w["token_embd"], ctx.Batch, EmbeddingIndex.Token, x);
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
                be.RmsNorm(x, w["output_norm"], _epsilon, y);
                ctx.Set("final", y);
                break;
            }
            case ComputationNodeKind.Head:
                HeadNode.Execute(w["output"], ctx, node.Inputs[0]);
                break;
            default:
                throw new InvalidOperationException($"{Name} has no node of kind {node.Kind}.");
        }
    }

    /// <summary>
    /// The output and down projections add into the residual stream (MatMul's Accumulate epilogue):
    /// the block's input becomes its output in place (nothing else reads it), no Add kernels.
    /// </summary>
    private void Block(ComputationNode node, NodeWeights w, ForwardContext ctx)
    {
        var be = ctx.Backend;
        var l = node.Layer;
        var y = ctx.Take(node.Inputs[0]);
        ctx.Set(node.Outputs[0], y);
        var h = y.Columns;
        var a = _attention;

        var norm = ctx.Temporary($"blk.{l}.attn_norm", h);
        be.RmsNorm(y, w["attn_norm"], _epsilon, norm);
        var q = ctx.Temporary($"blk.{l}.q", a.QueryWidth);
        var k = ctx.Temporary($"blk.{l}.k", a.KvWidth);
        var v = ctx.Temporary($"blk.{l}.v", a.KvWidth);
        be.MatMul(norm, w["attn_q"], WeightLayout.Linear, w.Optional("attn_q_bias"), q);
        be.MatMul(norm, w["attn_k"], WeightLayout.Linear, w.Optional("attn_k_bias"), k);
        be.MatMul(norm, w["attn_v"], WeightLayout.Linear, w.Optional("attn_v_bias"), v);
        be.Rope(q, ctx.Batch, a.HeadCount, _rope);
        be.Rope(k, ctx.Batch, a.KvHeadCount, _rope);
        var attn = ctx.Temporary($"blk.{l}.attn", a.QueryWidth);
        be.StoreKvAndAttend(q, k, v, ctx.Cache.Keys(l), ctx.Cache.Values(l), ctx.Batch, a, attn);
        be.MatMul(attn, w["attn_output"], WeightLayout.Linear, w.Optional("attn_output_bias"), y, MatMulEpilogue.Accumulate);

        var norm2 = ctx.Temporary($"blk.{l}.ffn_norm", h);
        be.RmsNorm(y, w["ffn_norm"], _epsilon, norm2);
        var gate = ctx.Temporary($"blk.{l}.ffn_gate", w["ffn_gate"].Rows);
        var up = ctx.Temporary($"blk.{l}.ffn_up", w["ffn_up"].Rows);
        be.MatMul(norm2, w["ffn_gate"], WeightLayout.Linear, w.Optional("ffn_gate_bias"), gate);
        be.MatMul(norm2, w["ffn_up"], WeightLayout.Linear, w.Optional("ffn_up_bias"), up);
        be.SiluMul(gate, up, gate);
        be.MatMul(gate, w["ffn_down"], WeightLayout.Linear, w.Optional("ffn_down_bias"), y, MatMulEpilogue.Accumulate);
    }
}
