using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Plugins;
using VirtualStack.Contracts.Stacks;
using VirtualStack.TestPlugins.Dependency;

namespace VirtualStack.TestPlugins.Good;

/// <summary>A third-party plugin built against contracts alone: provides a stack type named "Echo".</summary>
public sealed class GoodPluginModule : IPluginModule
{
    public string Name => "Good";

    public int AbiVersion => ContractInfo.AbiVersion;

    public void Register(IPluginRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddStack(new EchoStackFactory(Greeting.Text));
    }
}

/// <summary>A stack that answers every payload with itself: enough to prove a plugin stack runs in the host.</summary>
public sealed class EchoStackFactory(string name) : IStackFactory
{
    public string Name => char.ToUpperInvariant(name[0]) + name[1..];

    public string Description => "answers each datagram with itself (test plugin)";

    public string? Validate(StackOptions options) =>
        options?.Get("Fail") is { } fail ? $"Fail: asked to fail with '{fail}'" : null;

    public ITransportStack Create(StackOptions options, IStackHost host) => new EchoStack(options.Name);
}

internal sealed class EchoStack(string name) : ITransportStack
{
    public string Name => name;

    public StackCarries Carries => StackCarries.Payload;

    public ValueTask<IStackFlow> Open(FlowKey flow, NetEndpoint remote, IReplySink replies, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IStackFlow>(new EchoFlow(replies));

    public void Flush()
    {
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

internal sealed class EchoFlow(IReplySink replies) : IStackFlow
{
    public StackFlowStats Stats { get; } = new();

    public DropReason Send(ReadOnlySpan<byte> packet, in PacketInfo info)
    {
        Stats.PacketsSent++;
        replies.Deliver(packet.Slice(info.PayloadOffset, info.PayloadLength));
        return DropReason.None;
    }

    public void Dispose()
    {
    }
}
