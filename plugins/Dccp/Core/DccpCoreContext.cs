using VirtualStack.Contracts.Net;

namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>
/// What every connection of one endpoint shares: the output, the local address, the options, one scratch buffer
/// for building packets (all protocol work of an endpoint runs under its lock, one packet at a time) and the
/// endpoint-wide drop counters.
/// </summary>
internal sealed class DccpCoreContext
{
    public DccpCoreContext(IDccpPacketOutput output, NetAddress localAddress, int maxPacketSize, DccpProtocolOptions options)
    {
        Output = output;
        LocalAddress = localAddress;
        MaxPacketSize = maxPacketSize;
        Options = options;
        Scratch = new byte[maxPacketSize];
    }

    public IDccpPacketOutput Output { get; }

    public NetAddress LocalAddress { get; }

    /// <summary>The largest DCCP packet (header included) the path carries: path MTU less IP (and UDP) headers.</summary>
    public int MaxPacketSize { get; }

    public DccpProtocolOptions Options { get; }

    public byte[] Scratch { get; }

    public DccpDropCounters Drops { get; } = new();

    /// <summary>
    /// Header room kept free in every data packet: DataAck header (24), an Ack Vector, Confirms, Timestamp Echo and
    /// Data Checksum. The Ack Vector shrinks to what is left, so this bounds overhead without truncating data.
    /// </summary>
    public const int HeaderReserve = 128;

    /// <summary>Largest application datagram (the maximum packet size less <see cref="HeaderReserve"/>, RFC 4340 §14).</summary>
    public int MaxPayload => MaxPacketSize - HeaderReserve;
}
