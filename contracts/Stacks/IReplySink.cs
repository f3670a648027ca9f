namespace VirtualStack.Contracts.Stacks;

/// <summary>
/// Where a payload stack hands what arrives from the far end for one flow. The host reverses the NAT, builds a
/// complete IP packet addressed to the application (valid checksums) and writes it into the VNIC. Thread-safe;
/// the span is copied before the call returns.
/// </summary>
public interface IReplySink
{
    /// <summary>Delivers one received datagram payload to the application.</summary>
    void Deliver(ReadOnlySpan<byte> payload);

    /// <summary>Reports that the flow's connection on this stack failed (reset, unreachable); the flow reopens it on demand.</summary>
    void Fault(string reason);
}
