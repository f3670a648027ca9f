namespace VirtualStack.Host.Demo;

/// <summary>
/// What one run of the reference experiment does: <see cref="Seconds"/> of <see cref="Size"/>-byte UDP packets at
/// <see cref="RatePps"/> (0: as fast as the generator can, unpaced), the flow's stack alternating udp/dccp every
/// <see cref="PeriodSeconds"/>. <see cref="Direct"/> first measures the same paced stream on the kernel-only path
/// (no VS) in the same lab, as the benchmarks do.
/// </summary>
/// <remarks>
/// <see cref="WarmUp"/>: before the measured flow starts, a short flow on a dccp-only rule opens VS's first DCCP
/// connection (the endpoint's socket and thread, the stack's code compiled, the far side's accept path): the
/// measured flow's first DCCP build is then what a long-running VS pays for a new flow, the handshake. The warm-up
/// flow's own build, the process's cold first DCCP build, is reported beside it.
/// </remarks>
internal sealed record DemoOptions(int Seconds, double PeriodSeconds, int Size, long RatePps, bool Direct = false, bool WarmUp = true)
{
    /// <summary>
    /// The rate <c>vs demo</c> offers by default: 20,000 packets/s of 1500 bytes (0.24 Gbit/s), which this 2-core
    /// machine carries through VS on both stacks with no loss while its other core runs the generator, both servers
    /// and the DCCP far side (README "The demo": measured). Faster, the far side and the servers sharing one core
    /// start to drop, and a lost packet would no longer say anything about the switch.
    /// </summary>
    public const long DefaultRatePps = 20_000;

    public double OfferedGbps => RatePps * (double)Size * 8 / 1e9;
}
