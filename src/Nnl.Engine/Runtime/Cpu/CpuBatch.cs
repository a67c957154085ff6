namespace Nnl.Engine.Runtime.Cpu;

/// <summary>The CPU backend reads the host arrays directly.</summary>
internal sealed class CpuBatch : BackendBatch
{
    public CpuBatch(TokenBatch host) : base(host) { }
}
