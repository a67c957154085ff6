namespace Nnl.Engine.Models.Synthetic;

/// <summary>How a generated tensor's values are drawn (like a fresh model's initialisation).</summary>
public enum WeightInit
{
    /// <summary>Matrices and embeddings: normal(0, 0.02), transformers' initializer_range.</summary>
    Matrix,

    /// <summary>Norm scales: 1 + normal(0, 0.02), so every norm is close to the identity.</summary>
    NormScale,

    /// <summary>Biases (norm biases included): normal(0, 0.02), small but not zero so bias paths are exercised.</summary>
    Bias,
}

/// <summary>One tensor a generated model holds: its name as transformers' save_pretrained writes it, its shape and its initialisation.</summary>
public sealed record SyntheticTensor(string Name, long[] Shape, WeightInit Init)
{
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);
}

/// <summary>
/// The tensors of a config's architecture, in the order of its computation table (embedding,
/// blocks, final norm, head), named as transformers writes them. Written independently of the
/// architectures' own expectations, which check it when the table is built.
/// </summary>
public static class SyntheticTensors
{
    public static IReadOnlyList<SyntheticTensor> For(ModelConfig c) => c.Family switch
    {
        ModelFamily.Gpt2 => Gpt2(c),
        ModelFamily.Llama => Llama(c),
        _ => throw new NnlArgumentException("Config", $"{c.Architecture} cannot be generated"),
    };

    private static List<SyntheticTensor> Gpt2(ModelConfig c)
    {
        long h = c.HiddenSize, inner = c.IntermediateSize;
        const string p = "transformer.";
        var list = new List<SyntheticTensor>
        {
            new(p + "wte.weight", new[] { (long)c.VocabSize, h }, WeightInit.Matrix),
            new(p + "wpe.weight", new[] { (long)c.MaxPositions, h }, WeightInit.Matrix),
        };
        for (var l = 0; l < c.LayerCount; l++)
        {
            var b = $"{p}h.{l}.";
            // GPT-2's Conv1D stores weights [in, out].
            list.Add(new(b + "ln_1.weight", new[] { h }, WeightInit.NormScale));
            list.Add(new(b + "ln_1.bias", new[] { h }, WeightInit.Bias));
            list.Add(new(b + "attn.c_attn.weight", new[] { h, 3 * h }, WeightInit.Matrix));
            list.Add(new(b + "attn.c_attn.bias", new[] { 3 * h }, WeightInit.Bias));
            list.Add(new(b + "attn.c_proj.weight", new[] { h, h }, WeightInit.Matrix));
            list.Add(new(b + "attn.c_proj.bias", new[] { h }, WeightInit.Bias));
            list.Add(new(b + "ln_2.weight", new[] { h }, WeightInit.NormScale));
            list.Add(new(b + "ln_2.bias", new[] { h }, WeightInit.Bias));
            list.Add(new(b + "mlp.c_fc.weight", new[] { h, inner }, WeightInit.Matrix));
            list.Add(new(b + "mlp.c_fc.bias", new[] { inner }, WeightInit.Bias));
            list.Add(new(b + "mlp.c_proj.weight", new[] { inner, h }, WeightInit.Matrix));
            list.Add(new(b + "mlp.c_proj.bias", new[] { h }, WeightInit.Bias));
        }
        list.Add(new(p + "ln_f.weight", new[] { h }, WeightInit.NormScale));
        list.Add(new(p + "ln_f.bias", new[] { h }, WeightInit.Bias));
        if (!c.TieWordEmbeddings) list.Add(new("lm_head.weight", new[] { (long)c.VocabSize, h }, WeightInit.Matrix));
        return list;
    }

    private static List<SyntheticTensor> Llama(ModelConfig c)
    {
        long h = c.HiddenSize, q = c.QueryWidth, kv = c.KvWidth, inter = c.IntermediateSize;
        var list = new List<SyntheticTensor> { new("model.embed_tokens.weight", new[] { (long)c.VocabSize, h }, WeightInit.Matrix) };
        void Linear(string name, long outputs, long inputs, bool bias)
        {
            // nn.Linear stores weights [out, in].
            list.Add(new(name + ".weight", new[] { outputs, inputs }, WeightInit.Matrix));
            if (bias) list.Add(new(name + ".bias", new[] { outputs }, WeightInit.Bias));
        }
        for (var l = 0; l < c.LayerCount; l++)
        {
            var b = $"model.layers.{l}.";
            list.Add(new(b + "input_layernorm.weight", new[] { h }, WeightInit.NormScale));
            Linear(b + "self_attn.q_proj", q, h, c.QkvBias);
            Linear(b + "self_attn.k_proj", kv, h, c.QkvBias);
            Linear(b + "self_attn.v_proj", kv, h, c.QkvBias);
            Linear(b + "self_attn.o_proj", h, q, c.OutputProjectionBias);
            list.Add(new(b + "post_attention_layernorm.weight", new[] { h }, WeightInit.NormScale));
            Linear(b + "mlp.gate_proj", inter, h, c.MlpBias);
            Linear(b + "mlp.up_proj", inter, h, c.MlpBias);
            Linear(b + "mlp.down_proj", h, inter, c.MlpBias);
        }
        list.Add(new("model.norm.weight", new[] { h }, WeightInit.NormScale));
        if (!c.TieWordEmbeddings) list.Add(new("lm_head.weight", new[] { (long)c.VocabSize, h }, WeightInit.Matrix));
        return list;
    }
}
