using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Shared.Options;

namespace VirtualStack.Plugins.Udp;

/// <summary>Makes Udp stacks: UDP payloads over kernel UDP sockets shared between flows.</summary>
internal sealed class UdpStackFactory : IStackFactory
{
    /// <summary>Datagrams one recvmmsg call takes at most (each gets a 64 KiB buffer).</summary>
    public static readonly IntOption ReceiveBatch = new("ReceiveBatch", 32, 1, 1024, "datagrams per recvmmsg call, 64 KiB of buffer each");

    private static readonly IntOption[] Options = [IntOption.SocketBuffer, IntOption.SendBatch, ReceiveBatch];

    public string Name => "Udp";

    public string Description => "UDP payloads over kernel UDP sockets shared between flows (sendmmsg/recvmmsg, SO_MARK)";

    public string? Validate(StackOptions options) => IntOption.Validate(options, Options);

    public ITransportStack Create(StackOptions options, IStackHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        IntOption.ThrowIfInvalid(options, Options);

        return new UdpStack(
            options.Name,
            IntOption.SocketBuffer.Read(options),
            IntOption.SendBatch.Read(options),
            ReceiveBatch.Read(options),
            host);
    }
}
