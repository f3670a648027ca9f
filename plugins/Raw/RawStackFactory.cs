using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Shared.Options;

namespace VirtualStack.Plugins.Raw;

/// <summary>Makes Raw stacks: whole IP packets out unchanged through raw IP sockets.</summary>
internal sealed class RawStackFactory : IStackFactory
{
    private static readonly IntOption[] Options = [IntOption.SocketBuffer, IntOption.SendBatch];

    public string Name => "Raw";

    public string Description => "whole IP packets out unchanged through raw IP sockets (IPPROTO_RAW, SO_MARK); needs root or CAP_NET_RAW";

    public string? Validate(StackOptions options) => IntOption.Validate(options, Options);

    public ITransportStack Create(StackOptions options, IStackHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        IntOption.ThrowIfInvalid(options, Options);

        return new RawStack(options.Name, IntOption.SocketBuffer.Read(options), IntOption.SendBatch.Read(options), host);
    }
}
