namespace VirtualStack.Plugins.Dccp.Stack;

/// <summary>Counters of one Dccp stack, all flows together. Written with Interlocked; read by anyone.</summary>
internal sealed class DccpStackCounters
{
    /// <summary>Connections opened (handshake completed).</summary>
    public long ConnectionsOpened;

    /// <summary>Connections whose handshake failed (refused, timed out, no route).</summary>
    public long OpenFailures;

    /// <summary>Connections that failed or were reset while carrying a flow (each reported with IReplySink.Fault).</summary>
    public long Faults;

    /// <summary>Datagrams dropped because the connection's send queue was full (CCID 2's window closed for too long).</summary>
    public long QueueFullDrops;

    /// <summary>Datagrams dropped because the connection was not open (closing, failed, reset).</summary>
    public long NotOpenDrops;

    /// <summary>Datagrams larger than the connection's maximum (path MTU less the DCCP header room).</summary>
    public long TooBigDrops;

    /// <summary>Datagrams received from the far ends and handed to the flows.</summary>
    public long Delivered;
}
