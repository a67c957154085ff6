using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Offload;

/// <summary>
/// Chooses which weights stay on the GPU under a budget. Every streamed byte costs PCIe time on
/// every token, whatever node it belongs to, so the planner keeps as many bytes resident as fit;
/// it takes the head and final norm first (the head is often the largest node, and streaming it
/// would size every pipeline buffer after it), then blocks from the last one backwards, so the
/// resident tail of one pass overlaps the copies that start the next. Embedding tables that are not
/// resident are read in place from pinned host memory rather than streamed.
/// </summary>
public static class OffloadPlanner
{
    /// <summary>Slack for pool rounding (one granule per live block) and the backend's small buffers.</summary>
    public const long FixedMarginBytes = 96L << 20;

    /// <summary>
    /// Plans at the requested prefetch depth, or at the deepest smaller one that fits when the budget
    /// cannot hold PrefetchDepth + 1 of the largest node (then <see cref="OffloadPlan.Options"/> says
    /// which depth was used, and <see cref="OffloadPlan.DepthLowered"/> is true).
    /// </summary>
    public static OffloadPlan Plan(ComputationTable table, OffloadOptions options, long budgetBytes)
    {
        for (int depth = options.PrefetchDepth; ; depth--)
        {
            try
            {
                var plan = PlanAtDepth(table, options with { PrefetchDepth = depth }, budgetBytes);
                plan.DepthLowered = depth != options.PrefetchDepth;
                return plan;
            }
            catch (NnlArgumentException e) when (depth > 1 && e.ParameterName == "MaxGpuMemory") { }
        }
    }

    private static OffloadPlan PlanAtDepth(ComputationTable table, OffloadOptions options, long budgetBytes)
    {
        options.Validate();
        if (budgetBytes <= 0) throw new NnlArgumentException("MaxGpuMemory", $"the budget must be positive, not {budgetBytes}");
        long kv = options.KvCacheOf(table).BytesPerToken * options.BatchSize * options.ContextLength;
        long activations = ActivationBytes(table, options);
        long fixedBytes = kv + activations + FixedMarginBytes;
        var distinct = table.DistinctWeights.ToDictionary(t => t.Name, StringComparer.Ordinal);

        // Everything fits: no streaming at all.
        if (table.WeightBytes + fixedBytes <= budgetBytes && options.ResidentLayers is null && !options.StreamAllNodes)
            return Build(table, options, budgetBytes, distinct.Keys.ToHashSet(StringComparer.Ordinal), new HashSet<string>(), kv, activations);

        var resident = new HashSet<string>(StringComparer.Ordinal);
        var hostMapped = table.Nodes.Where(n => n.Kind == ComputationNodeKind.Embedding)
            .SelectMany(n => n.Weights).Select(w => w.Tensor.Name).ToHashSet(StringComparer.Ordinal);

        var blocks = table.Nodes.Where(n => n.Kind == ComputationNodeKind.TransformerBlock).OrderByDescending(n => n.Index).ToList();
        var others = table.Nodes.Where(n => n.Kind is ComputationNodeKind.Head or ComputationNodeKind.FinalNorm).OrderByDescending(n => n.Index).ToList();

        bool Fits(HashSet<string> candidate)
        {
            var plan = Build(table, options, budgetBytes, candidate, hostMapped, kv, activations);
            return plan.ResidentWeightBytes + plan.StreamingBufferBytes + fixedBytes <= budgetBytes;
        }

        bool TryAdd(ComputationNode node)
        {
            var candidate = new HashSet<string>(resident, StringComparer.Ordinal);
            foreach (var w in node.Weights) candidate.Add(w.Tensor.Name);
            if (!Fits(candidate)) return false;
            resident = candidate;
            return true;
        }

        if (!Fits(resident))
        {
            var streamedOnly = Build(table, options, budgetBytes, resident, hostMapped, kv, activations);
            throw new NnlArgumentException("MaxGpuMemory",
                $"{budgetBytes / 1e9:F2} GB is too small for this model: streaming every node needs {options.PrefetchDepth + 1} buffers of " +
                $"{streamedOnly.LargestStreamedNodeBytes / 1e6:F0} MB (prefetch depth {options.PrefetchDepth} + the node computing), " +
                $"a KV cache of {kv / 1e6:F0} MB for {options.BatchSize}×{options.ContextLength} tokens and {activations / 1e6:F0} MB of activations, " +
                $"{(streamedOnly.StreamingBufferBytes + fixedBytes) / 1e9:F2} GB in all. Raise -MaxGpuMemory, or lower -PrefetchDepth or -ContextLength.");
        }

        if (options.StreamAllNodes) return Build(table, options, budgetBytes, resident, hostMapped, kv, activations);
        foreach (var node in others) TryAdd(node);
        if (options.ResidentLayers is int wanted)
        {
            if (wanted > blocks.Count)
                throw new NnlArgumentException(nameof(options.ResidentLayers), $"the model has {blocks.Count} blocks, not {wanted}");
            foreach (var block in blocks.Take(wanted))
                if (!TryAdd(block))
                    throw new NnlArgumentException(nameof(options.ResidentLayers),
                        $"{wanted} resident blocks do not fit in {budgetBytes / 1e9:F2} GB (block {block.Layer} does not); use Auto or a larger -MaxGpuMemory");
        }
        else
        {
            foreach (var block in blocks)
                if (!TryAdd(block)) break;
        }
        return Build(table, options, budgetBytes, resident, hostMapped, kv, activations);
    }

    private static OffloadPlan Build(ComputationTable table, OffloadOptions options, long budget, HashSet<string> resident,
        HashSet<string> hostMapped, long kv, long activations)
    {
        var placements = new Dictionary<string, WeightPlacement>(StringComparer.Ordinal);
        foreach (var t in table.DistinctWeights)
            placements[t.Name] = resident.Contains(t.Name) ? WeightPlacement.Resident
                : hostMapped.Contains(t.Name) ? WeightPlacement.HostMapped
                : WeightPlacement.Streamed;
        // A tensor shared by an embedding and the head (tied weights) streams for the head while the
        // embedding reads it in place: placement is per tensor, the embedding node never streams.
        var layouts = table.Nodes.Select(n =>
        {
            if (n.Kind == ComputationNodeKind.Embedding) return null;
            var streamed = n.Weights.Select(w => w.Tensor).Where(t => placements[t.Name] != WeightPlacement.Resident).ToList();
            return streamed.Count == 0 ? null : new NodeLayout(n, streamed);
        }).ToArray();
        return new OffloadPlan(table, options, budget, placements, layouts, kv, activations);
    }

    /// <summary>
    /// Activations and workspace of the largest node for the largest planned pass: its inputs and
    /// outputs, its scratch, and the logits. A generous estimate; the pool enforces the real budget.
    /// The head computes only the pass's output rows (<see cref="OffloadOptions.MaxLogitRows"/>).
    /// </summary>
    public static long ActivationBytes(ComputationTable table, OffloadOptions options)
    {
        long rows = Math.Max(options.MaxPrefillRows, options.BatchSize);
        long logitRows = Math.Min(rows, Math.Max(options.MaxLogitRows, options.BatchSize));
        long context = options.ContextLength;
        long worst = 0;
        foreach (var n in table.Nodes)
        {
            long r = n.Kind == ComputationNodeKind.Head ? logitRows : rows;
            long io = 3 * n.OutputBytesPerRow * r;
            worst = Math.Max(worst, io + n.Workspace.Bytes(r, context));
        }
        long logits = (long)options.BatchSize * table.Config.VocabSize * sizeof(float) * 2;
        return worst + logits;
    }
}
