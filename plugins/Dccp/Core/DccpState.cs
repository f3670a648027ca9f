namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>Connection states of RFC 4340 §8 (the numeric order follows the RFC's "S.state &gt;= OPEN" comparisons).</summary>
public enum DccpState : byte
{
    /// <summary>No connection.</summary>
    Closed = 0,
    /// <summary>Server waiting for Requests.</summary>
    Listen,
    /// <summary>Client sent a Request, waits for the Response (§8.1.1).</summary>
    Request,
    /// <summary>Server sent a Response, waits for the client's Ack (§8.1.3).</summary>
    Respond,
    /// <summary>Client got the Response, sent its Ack, waits for any packet from the server (§8.1.5).</summary>
    PartOpen,
    /// <summary>Data flows both ways.</summary>
    Open,
    /// <summary>Server sent a CloseReq, waits for the client's Close (§8.3).</summary>
    CloseReq,
    /// <summary>Sent a Close, waits for the Reset (§8.3).</summary>
    Closing,
    /// <summary>Got the Reset that ends the connection; holds the port pair for 2 MSL (§8.3).</summary>
    TimeWait,
}
