using System.Threading.Tasks.Dataflow;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Decision;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Pipeline;
using VirtualStack.Host.Rules;
using VirtualStack.Host.Stacks;
using VirtualStack.Host.Tests.Infrastructure;

namespace VirtualStack.Host.Tests.Switching;

/// <summary>
/// The real pipeline stages on a real shard loop, fed batches directly (no TUN), with one rule over two recording
/// stacks whose decision is a <see cref="RulePolicy"/> around a policy the test controls.
/// </summary>
internal sealed class PipelineHarness : IAsyncDisposable
{
    private static readonly byte[] App = [10, 200, 0, 1];
    private static readonly byte[] Server = [10, 201, 0, 2];

    private readonly PipelineRig _rig;

    public PipelineHarness(IDecisionPolicy policy, ITransportStack? first = null, ITransportStack? second = null,
        int holdPackets = VirtualStack.Host.Configuration.FlowSettings.DefaultHoldPackets)
    {
        StackA = first ?? new RecordingStack("udpA");
        StackB = second ?? new RecordingStack("udpB");
        Raw = new RecordingStack("raw", Contracts.Stacks.StackCarries.Packet);
        Policy = new RulePolicy("test", ["udpA", "udpB"], new PolicyBinding("Test", new Dictionary<string, string>(), policy, -1, 1, DateTimeOffset.UtcNow));
        Runtimes = [new StackRuntime(0, "udpA", "T", StackA), new StackRuntime(1, "udpB", "T", StackB), new StackRuntime(2, "raw", "T", Raw)];
        var rules = new RuleSet(
            [new Rule("test", new RuleMatch(IpProtocols.Udp, null, null, null, null), [Runtimes[0], Runtimes[1]], Policy, null, null)],
            new Rule("default", RuleMatch.Any, [Runtimes[2]], FirstStackPolicy.Instance, null, null));
        _rig = new PipelineRig(rules, stackCount: 3, failed: (_, _, e) => StageError = e, holdPackets: holdPackets).Start();
    }

    public ShardLoop Loop => _rig.Loop;

    public ITransportStack StackA { get; }

    public ITransportStack StackB { get; }

    /// <summary>The first stack, when it is a recording one (the default).</summary>
    public RecordingStack A => (RecordingStack)StackA;

    public RecordingStack B => (RecordingStack)StackB;

    public RecordingStack Raw { get; }

    public RulePolicy Policy { get; }

    public StackRuntime[] Runtimes { get; }

    public PipelineCounters Counters => _rig.Counters;

    public FlowManager Flows => _rig.Flows;

    public PacketBatchPool Pool => _rig.Pool;

    /// <summary>An exception a stage threw (the pipeline's fault handler); tests expect none.</summary>
    public Exception? StageError { get; private set; }

    /// <summary>Datagrams numbered <paramref name="from"/> upward, one flow (source port 5000).</summary>
    public static List<byte[]> Numbered(int from, int count, ushort sourcePort = 5000) =>
        [.. Enumerable.Range(from, count).Select(i => TestPackets.Udp(App, sourcePort, Server, 9000, BitConverter.GetBytes(i)))];

    public Task<T> OnLoop<T>(Func<T> work) => _rig.OnLoop(work);

    /// <summary>Feeds the packets in batches of up to <paramref name="batchSize"/> and waits until every batch is back.</summary>
    public Task Feed(IReadOnlyList<byte[]> packets, int batchSize = 16) => _rig.Feed(packets, batchSize);

    public ValueTask DisposeAsync() => _rig.DisposeAsync();
}

/// <summary>A policy whose answer (or exception) the test sets; Choose counts its calls.</summary>
internal sealed class ScriptedPolicy : IDecisionPolicy
{
    public volatile int Choice;

    public volatile Exception? Throw;

    /// <summary>When set, chooses per packet from the payload's number (the datagram index) instead of <see cref="Choice"/>.</summary>
    public Func<int, int>? ByNumber { get; set; }

    public int Calls;

    public List<Measurement> Observed { get; } = [];

    /// <summary>Each call's flow id and current stack, in order (pipeline thread only; read after the feed completes).</summary>
    public List<(long FlowId, int CurrentStack)> Contexts { get; } = [];

    public string? Status => $"choice {Choice}";

    public int Choose(in PacketInfo packet, in FlowContext flow)
    {
        Calls++;
        Contexts.Add((flow.FlowId, flow.CurrentStack));
        if (Throw is { } error)
        {
            throw error;
        }

        return Choice;
    }

    public void Observe(in Measurement measurement)
    {
        lock (Observed)
        {
            Observed.Add(measurement);
        }
    }
}
