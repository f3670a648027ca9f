namespace VirtualStack.Plugins.Udp;

/// <summary>
/// A Udp stack's own counters (the per-flow ones are each flow's StackFlowStats). Each field has one writer thread:
/// the send side is written by the pipeline thread, the receive side by the receive thread; readers may see a
/// slightly stale value.
/// </summary>
internal sealed class UdpStackCounters
{
    /// <summary>Datagrams the kernel accepted.</summary>
    public long DatagramsSent;

    /// <summary>UDP GSO sends: runs of one flow's datagrams among <see cref="DatagramsSent"/> the kernel took as one.</summary>
    public long JoinedSends;

    /// <summary>Datagrams the kernel refused, or given up on after the send timeout.</summary>
    public long SendErrors;

    /// <summary>Datagrams received and handed to a flow.</summary>
    public long DatagramsReceived;

    /// <summary>Payload bytes of <see cref="DatagramsReceived"/>.</summary>
    public long BytesReceived;

    /// <summary>Datagrams from a source that is no flow's far end on the socket that received them.</summary>
    public long Unmatched;

    /// <summary>Datagrams cut by the receive buffer (dropped, never delivered cut).</summary>
    public long Truncated;

    /// <summary>recvmmsg or epoll_wait failures other than "nothing to read".</summary>
    public long ReceiveErrors;

    /// <summary>Replies whose sink threw.</summary>
    public long DeliverErrors;

    /// <summary>Sockets opened since the stack started.</summary>
    public long SocketsOpened;

    /// <summary>Sockets closed since the stack started.</summary>
    public long SocketsClosed;

    /// <summary>Flows that could not be opened (no socket could be made).</summary>
    public long OpenFailures;
}
