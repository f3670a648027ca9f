namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>A snapshot of one connection's state and counters.</summary>
public readonly record struct DccpConnectionStats
{
    /// <summary>Connection state.</summary>
    public DccpState State { get; init; }

    /// <summary>CCID 2 congestion window, packets.</summary>
    public int Cwnd { get; init; }

    /// <summary>CCID 2 slow-start threshold, packets (int.MaxValue before the first loss).</summary>
    public int Ssthresh { get; init; }

    /// <summary>Data packets in flight.</summary>
    public int Pipe { get; init; }

    /// <summary>Smoothed round-trip time (zero before the first sample).</summary>
    public TimeSpan Rtt { get; init; }

    /// <summary>Current retransmission timeout.</summary>
    public TimeSpan Rto { get; init; }

    /// <summary>Largest datagram the connection accepts for sending.</summary>
    public int MaxDatagramSize { get; init; }

    /// <summary>Ack Ratio the peer uses for our data (Ack Ratio/local).</summary>
    public int AckRatio { get; init; }

    /// <summary>Data packets sent.</summary>
    public long DataPacketsSent { get; init; }

    /// <summary>Payload bytes sent.</summary>
    public long DataBytesSent { get; init; }

    /// <summary>Data packets received and delivered or queued.</summary>
    public long DataPacketsReceived { get; init; }

    /// <summary>Payload bytes received.</summary>
    public long DataBytesReceived { get; init; }

    /// <summary>All packets sent (data, acks, control).</summary>
    public long PacketsSent { get; init; }

    /// <summary>All valid packets received.</summary>
    public long PacketsReceived { get; init; }

    /// <summary>Our data packets the peer's Ack Vectors (or a timeout) showed lost.</summary>
    public long DataPacketsLost { get; init; }

    /// <summary>Congestion window reductions.</summary>
    public long CongestionEvents { get; init; }

    /// <summary>Retransmission timeouts.</summary>
    public long Timeouts { get; init; }

    /// <summary>Datagrams waiting to be sent.</summary>
    public int SendQueueLength { get; init; }

    /// <summary>Datagrams waiting for the application.</summary>
    public int ReceiveQueueLength { get; init; }

    /// <summary>Syncs sent.</summary>
    public long SyncsSent { get; init; }

    /// <summary>Packets of this connection that were dropped, all reasons.</summary>
    public long Drops { get; init; }
}
