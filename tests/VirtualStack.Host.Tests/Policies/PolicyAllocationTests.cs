using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;

namespace VirtualStack.Host.Tests.Policies;

/// <summary>Choose runs for every packet: once warm, no policy of the plugin may allocate in it.</summary>
public sealed class PolicyAllocationTests(PolicyPlugins plugins) : IClassFixture<PolicyPlugins>
{
    public static TheoryData<string, string[]> Policies => new()
    {
        { "Static", ["Stack", "udpB"] },
        { "TimedSwitch", ["Period", "00:00:00.2"] },
        { "RuleBased", ["When:0:Stack", "udpB", "When:0:Dscp", "46", "When:1:Stack", "udpA", "When:1:Source", "10.200.0.0/24", "When:1:Time", "00:00-23:59", "Default", "udpA"] },
        { "MeasurementDriven", ["MaxLoss", "0.05"] },
    };

    [Theory]
    [MemberData(nameof(Policies))]
    // Fully optimized from the first call: in tier-0 code the measured loop is replaced on the stack (OSR) after enough
    // iterations, and that compilation, on this thread, once allocated 5 KB inside the measurement (seen in CI).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public void Choose_allocates_nothing(string name, string[] pairs)
    {
        IDecisionPolicy policy = plugins.Create(name, ["udpA", "udpB"], new TestPolicyHost(), [.. pairs.Chunk(2).Select(p => (p[0], p[1]))]);
        if (name == "MeasurementDriven")
        {
            // With a per-flow state in place, the lookup path is the one that runs.
            var flow = PolicyPlugins.Packet(sourcePort: 1).Flow;
            policy.Observe(new Measurement(0, "udpA", MeasurementSource.Controller, new MeasurementValues(LossRatio: 0.5), 1, flow, 1));
        }

        PacketInfo[] packets = [.. Enumerable.Range(0, 64).Select(i => PolicyPlugins.Packet(sourcePort: (ushort)(40000 + i), dscp: (byte)(i % 64), length: (ushort)(64 + i)))];
        int sink = 0;
        for (int i = 0; i < 1000; i++)
        {
            sink += policy.Choose(packets[i % 64], new FlowContext(0, i, 2));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000; i++)
        {
            // The clock stays inside one second: the time-of-day refresh (once a second, not per packet) is not measured.
            sink += policy.Choose(packets[i % 64], new FlowContext(0, 5000 + (i % 500), 2));
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{name}.Choose allocated {allocated} bytes over 100,000 packets ({sink})");
    }
}
