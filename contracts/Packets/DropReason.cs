namespace VirtualStack.Contracts.Packets;

/// <summary>Why a packet was not carried. Every drop is counted under one of these.</summary>
public enum DropReason : byte
{
    /// <summary>Not dropped.</summary>
    None = 0,
    /// <summary>Shorter than the smallest IP header.</summary>
    Truncated,
    /// <summary>IP version is neither 4 nor 6.</summary>
    BadVersion,
    /// <summary>IP header length or total length disagree with what was read.</summary>
    BadLength,
    /// <summary>The flow table is full and nothing could be evicted.</summary>
    FlowTableFull,
    /// <summary>The flow's stack is still being built and cannot carry packets yet.</summary>
    StackNotReady,
    /// <summary>The stack refused or failed to send the packet.</summary>
    StackError,
    /// <summary>The payload does not fit the stack's maximum datagram size.</summary>
    TooBig,
    /// <summary>The stack cannot carry this kind of packet (for example a fragment on a datagram stack).</summary>
    Unsupported,
    /// <summary>The pipeline is shutting down.</summary>
    ShuttingDown,
    /// <summary>
    /// Link-scope traffic of the VNIC itself (IPv6 link-local or link/interface-local multicast, IPv4 link-local,
    /// local network control multicast or limited broadcast): it has no next hop, and sending it out again loops it
    /// back into the VNIC.
    /// </summary>
    LinkScope,
}
