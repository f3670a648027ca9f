using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Decision;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Rules;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Tests.Infrastructure;

/// <summary>
/// A stack that records what it is given, in order, and what it was asked to flush: the one place where a fake
/// stands in for a real part, so that pipeline tests can see exactly what reached the stack sink.
/// </summary>
internal sealed class RecordingStack(string name, StackCarries carries = StackCarries.Payload) : ITransportStack
{
    public string Name => name;

    public StackCarries Carries => carries;

    public List<(FlowKey Flow, byte[] Payload)> Sent { get; } = [];

    public List<(FlowKey Flow, NetEndpoint Remote)> Opened { get; } = [];

    public int Flushes { get; private set; }

    public int Pending { get; private set; }

    public TaskCompletionSource? OpenGate { get; set; }

    /// <summary>A payload whose first byte is this makes Send throw, like a stack with a bug.</summary>
    public int ThrowOnPayload { get; set; } = -1;

    public ValueTask<IStackFlow> Open(FlowKey flow, NetEndpoint remote, IReplySink replies, CancellationToken cancellationToken)
    {
        Opened.Add((flow, remote));
        var stackFlow = new RecordingFlow(this, flow, replies);
        return OpenGate is { } gate ? Later(gate, stackFlow) : ValueTask.FromResult<IStackFlow>(stackFlow);

        static async ValueTask<IStackFlow> Later(TaskCompletionSource gate, IStackFlow flow)
        {
            await gate.Task;
            return flow;
        }
    }

    public void Flush()
    {
        Flushes++;
        Pending = 0;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed class RecordingFlow(RecordingStack stack, FlowKey flow, IReplySink replies) : IStackFlow
    {
        public StackFlowStats Stats { get; } = new();

        public IReplySink Replies => replies;

        public DropReason Send(ReadOnlySpan<byte> packet, in PacketInfo info)
        {
            byte[] payload = stack.Carries == StackCarries.Payload ? packet.Slice(info.PayloadOffset, info.PayloadLength).ToArray() : packet.ToArray();
            if (payload.Length > 0 && payload[0] == stack.ThrowOnPayload)
            {
                throw new InvalidOperationException("stack bug");
            }

            stack.Sent.Add((flow, payload));
            stack.Pending++;
            Stats.PacketsSent++;
            return DropReason.None;
        }

        public void Dispose()
        {
        }
    }
}

/// <summary>Records replies instead of writing them into a TUN.</summary>
internal sealed class RecordingReplyWriter : IReplyWriter
{
    public List<(FlowKey Flow, byte[] Payload)> Written { get; } = [];

    public void Write(in FlowKey flow, ReadOnlySpan<byte> payload)
    {
        lock (Written)
        {
            Written.Add((flow, payload.ToArray()));
        }
    }
}

internal static class TestRules
{
    public static RuleSet Single(StackRuntime stack, StackRuntime fallback, IFlowPolicy? policy = null, params StackRuntime[] more) =>
        new(
            [new Rule("test", new RuleMatch(IpProtocols.Udp, null, null, null, null), [stack, .. more], policy ?? FirstStackPolicy.Instance, null, null)],
            new Rule("default", RuleMatch.Any, [fallback], FirstStackPolicy.Instance, null, null));
}

/// <summary>A stack that takes every packet and does nothing: for measuring the pipeline alone.</summary>
internal sealed class NullStack : ITransportStack
{
    public string Name => "null";

    public StackCarries Carries => StackCarries.Payload;

    public ValueTask<IStackFlow> Open(FlowKey flow, NetEndpoint remote, IReplySink replies, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IStackFlow>(new NullFlow());

    public void Flush()
    {
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed class NullFlow : IStackFlow
    {
        public StackFlowStats Stats { get; } = new();

        public DropReason Send(ReadOnlySpan<byte> packet, in PacketInfo info) => DropReason.None;

        public void Dispose()
        {
        }
    }
}
