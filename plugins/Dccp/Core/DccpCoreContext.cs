using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Protocol;

namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>
/// What every connection of one endpoint shares: the output, the local address, the options, one scratch buffer
/// for building packets (all protocol work of an endpoint runs under its lock, one packet at a time) and the
/// endpoint-wide drop counters.
/// </summary>
internal sealed class DccpCoreContext
{
    public DccpCoreContext(IDccpPacketOutput output, NetAddress localAddress, int maxPacketSize, DccpProtocolOptions options, bool transportChecksums = false)
    {
        Output = output;
        TransportChecksums = transportChecksums;
        LocalAddress = localAddress;
        MaxPacketSize = maxPacketSize;
        Options = options;
        Scratch = new byte[maxPacketSize];
    }

    public IDccpPacketOutput Output { get; }

    /// <summary>
    /// True when the transport protects every packet with a checksum of its own (DCCP-UDP, RFC 6773 §3.3): the DCCP
    /// Checksum field is then sent as zero and ignored on receipt, because a NAT rewriting the outer addresses
    /// would not update it.
    /// </summary>
    public bool TransportChecksums { get; }

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

    /// <summary>Finishes a packet to <paramref name="remote"/>: with the §9.1 checksum, or with a zero one when the transport checksums (RFC 6773 §3.3).</summary>
    public int Finish(ref DccpPacketWriter writer, scoped ReadOnlySpan<byte> payload, NetAddress remote) =>
        TransportChecksums ? writer.FinishWithoutChecksum(payload) : writer.Finish(payload, LocalAddress, remote);
}
