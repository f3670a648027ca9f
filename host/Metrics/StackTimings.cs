using System.Runtime.CompilerServices;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Metrics;

/// <summary>
/// Per configured stack: how long its flows took to build (first build of a flow's slot, a handshake for DCCP) and
/// how long switches onto it took, from the decision wanting it to the first packet sent on it. Kept beside the
/// <see cref="StackRuntime"/> rather than in it, so the runtime stays the data path's plain counter record.
/// </summary>
internal sealed class StackTimings
{
    private const int Recent = 4096;

    private static readonly ConditionalWeakTable<StackRuntime, StackTimings> All = new();

    /// <summary>Build times in microseconds.</summary>
    public SampleReservoir Builds { get; } = new(Recent);

    /// <summary>Delays of switches onto this stack in microseconds.</summary>
    public SampleReservoir Switches { get; } = new(Recent);

    public static StackTimings For(StackRuntime stack) => All.GetValue(stack, static _ => new StackTimings());
}
