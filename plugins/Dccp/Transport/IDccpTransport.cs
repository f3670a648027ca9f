using VirtualStack.Contracts.Net;

namespace VirtualStack.Plugins.Dccp.Transport;

/// <summary>
/// Carries whole DCCP packets (RFC 4340 §5, ports and checksum included) between this host and peers. A transport
/// is used by one <see cref="Endpoint.DccpEndpoint"/>: one thread receives, any thread may send.
/// </summary>
public interface IDccpTransport : IDisposable
{
    /// <summary>The local address: the source of sent packets and the pseudo-header address (§9.1).</summary>
    NetAddress LocalAddress { get; }

    /// <summary>Largest DCCP packet, header included, this transport carries (path MTU less IP and UDP headers).</summary>
    int MaxPacketSize { get; }

    /// <summary>The one local DCCP port this transport serves (UDP encapsulation), or null when any port can be used (raw IP).</summary>
    ushort? BoundPort { get; }

    /// <summary>
    /// True when the transport checksums every packet itself (DCCP-UDP, RFC 6773 §3.3): the endpoint then sends the
    /// DCCP Checksum field as zero and ignores it on receipt.
    /// </summary>
    bool ProvidesChecksum => false;

    /// <summary>Sends one DCCP packet to <paramref name="destination"/>. Thread-safe; copies before returning.</summary>
    void Send(ReadOnlySpan<byte> packet, NetAddress destination);

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for one DCCP packet and copies it into <paramref name="buffer"/>.
    /// Returns its length, 0 when nothing arrived in time, or -1 once the transport is disposed.
    /// </summary>
    int Receive(Span<byte> buffer, out NetAddress source, out NetAddress destination, TimeSpan timeout);

    /// <summary>
    /// Queues one DCCP packet for the next <see cref="FlushQueued"/> (sendmmsg), copying it; sends at once when the
    /// transport does not batch. Called only under the owning endpoint's lock.
    /// </summary>
    void Queue(ReadOnlySpan<byte> packet, NetAddress destination) => Send(packet, destination);

    /// <summary>Sends what <see cref="Queue"/> collected. Called only under the owning endpoint's lock.</summary>
    void FlushQueued()
    {
    }
}
