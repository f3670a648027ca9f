namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>Receives the connections a listener accepted once they reach OPEN.</summary>
internal interface IDccpAcceptSink
{
    /// <summary>False when the accept backlog is full: new Requests are refused with Reset(Too Busy).</summary>
    bool CanAccept { get; }

    /// <summary>A server connection completed its handshake.</summary>
    void OnOpen(DccpConnectionCore connection);
}

/// <summary>A listening port (RFC 4340 LISTEN state, §8.1): the Service Codes it accepts and its half-open count.</summary>
internal sealed class DccpListenerEntry
{
    public DccpListenerEntry(ushort port, uint[] serviceCodes, IDccpAcceptSink sink)
    {
        Port = port;
        ServiceCodes = serviceCodes;
        Sink = sink;
    }

    public ushort Port { get; }

    /// <summary>Accepted Service Codes (§8.1.2); empty accepts any.</summary>
    public uint[] ServiceCodes { get; }

    public IDccpAcceptSink Sink { get; }

    /// <summary>Connections in RESPOND (half-open), bounded by <see cref="DccpProtocolOptions.MaxHalfOpen"/>.</summary>
    public int HalfOpen { get; set; }

    public bool Accepts(uint serviceCode) => ServiceCodes.Length == 0 || Array.IndexOf(ServiceCodes, serviceCode) >= 0;
}
