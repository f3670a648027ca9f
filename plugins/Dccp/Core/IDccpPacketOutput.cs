using VirtualStack.Contracts.Net;

namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>Where the protocol core puts the packets it builds: a transport, or an in-memory link in tests.</summary>
internal interface IDccpPacketOutput
{
    /// <summary>Sends one complete DCCP packet (ports and checksum filled in) to <paramref name="destination"/>. Must copy before returning.</summary>
    void Send(ReadOnlySpan<byte> packet, NetAddress destination);
}

/// <summary>What a connection tells its owner. Called under the owner's lock: implementations must not block or re-enter.</summary>
internal interface IDccpConnectionObserver
{
    /// <summary>Received datagrams are waiting.</summary>
    void OnReadable();

    /// <summary>
    /// Offered a datagram as it arrives while nothing is queued: true when the observer took it (the span is valid
    /// only during the call), so that it never goes through the receive queue; false to have it queued as usual.
    /// </summary>
    bool TryDeliver(ReadOnlySpan<byte> datagram) => false;

    /// <summary>The send queue has room again.</summary>
    void OnWritable();

    /// <summary>The state changed (established, closing, closed).</summary>
    void OnStateChanged(DccpState state);
}
