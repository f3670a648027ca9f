using VirtualStack.Contracts.Stacks;
using VirtualStack.Plugins.Shared.Options;

namespace VirtualStack.Plugins.Udp;

/// <summary>Makes Udp stacks: UDP payloads over kernel UDP sockets shared between flows.</summary>
internal sealed class UdpStackFactory : IStackFactory
{
    /// <summary>Datagrams one recvmmsg call takes at most (each gets a 64 KiB buffer).</summary>
    public static readonly IntOption ReceiveBatch = new("ReceiveBatch", 32, 1, 1024, "datagrams per recvmmsg call, 64 KiB of buffer each");

    /// <summary>Datagrams of one flow joined into one UDP GSO send at most; 1 turns joining off.</summary>
    public static readonly IntOption SendSegments = new("SendSegments", 64, 1, 64, "datagrams of one flow joined into one UDP GSO send (UDP_SEGMENT), 1 = off");

    private static readonly IntOption[] Options = [IntOption.SocketBuffer, IntOption.SendBatch, ReceiveBatch, SendSegments];

    public string Name => "Udp";

    public string Description => "UDP payloads over kernel UDP sockets shared between flows (sendmmsg with UDP GSO, recvmmsg, SO_MARK)";

    public string? Validate(StackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return UdpDevice.Validate(UdpDevice.Read(options)) ?? IntOption.Validate(UdpDevice.Without(options), Options);
    }

    public ITransportStack Create(StackOptions options, IStackHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        if (UdpDevice.Validate(UdpDevice.Read(options)) is { } problem)
        {
            throw new ArgumentException($"Stacks:{options.Name}: {problem}", nameof(options));
        }

        IntOption.ThrowIfInvalid(UdpDevice.Without(options), Options);
        return new UdpStack(
            options.Name,
            IntOption.SocketBuffer.Read(options),
            IntOption.SendBatch.Read(options),
            ReceiveBatch.Read(options),
            SendSegments.Read(options),
            host)
        {
            Device = UdpDevice.Read(options),
        };
    }
}
