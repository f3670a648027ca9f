using VirtualStack.Contracts.Flows;

namespace VirtualStack.Contracts.Stacks;

/// <summary>
/// A configured network stack: opens per-flow state and sends what the flows queue. One instance per configured
/// stack; called from the host's pipeline thread for <see cref="Open"/>, <see cref="Flush"/> and every
/// <see cref="IStackFlow.Send"/> (never concurrently with each other), replies arrive on the stack's own threads.
/// </summary>
public interface ITransportStack : IAsyncDisposable
{
    /// <summary>The configured name (e.g. <c>udp</c>).</summary>
    string Name { get; }

    /// <summary>
    /// How the stack carries packets: payload stacks get the transport payload and replies are payloads the host
    /// wraps again; packet stacks carry the whole IP packet and the network returns the replies.
    /// </summary>
    StackCarries Carries { get; }

    /// <summary>
    /// Builds this stack's state for a flow. May complete later (a handshake); until then the host does not send
    /// on it. <paramref name="remote"/> is where the NAT says the flow goes; replies go to <paramref name="replies"/>.
    /// </summary>
    /// <remarks>
    /// Called on the pipeline thread, which carries every other flow meanwhile: return at once. Complete
    /// synchronously only when the flow is ready at once (a socket); anything slow (a handshake, creating threads or
    /// endpoints, first-time work) belongs after the first await, off this thread. The continuation of the returned
    /// task is resumed on the pipeline thread by the host.
    /// </remarks>
    ValueTask<IStackFlow> Open(FlowKey flow, Net.NetEndpoint remote, IReplySink replies, CancellationToken cancellationToken);

    /// <summary>
    /// Sends everything queued by <see cref="IStackFlow.Send"/> since the last flush. The host calls it once per
    /// batch; the memory given to <c>Send</c> is valid until this returns, never after.
    /// </summary>
    void Flush();
}

/// <summary>What a stack takes from each packet.</summary>
public enum StackCarries
{
    /// <summary>The transport payload (UDP datagram contents); the stack's own protocol carries it.</summary>
    Payload,
    /// <summary>The whole IP packet, unchanged.</summary>
    Packet,
}
