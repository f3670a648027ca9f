using System.Globalization;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;

namespace VirtualStack.Contracts.Flows;

/// <summary>
/// Identity of an application flow as the application sees it: protocol, source and destination address and
/// port (ports are 0 for protocols without them; for ICMP echo the identifier is the source port).
/// </summary>
public readonly struct FlowKey : IEquatable<FlowKey>
{
    /// <summary>Creates a key.</summary>
    public FlowKey(byte protocol, NetAddress source, ushort sourcePort, NetAddress destination, ushort destinationPort)
    {
        Protocol = protocol;
        Source = source;
        SourcePort = sourcePort;
        Destination = destination;
        DestinationPort = destinationPort;
    }

    /// <summary>Transport protocol number.</summary>
    public byte Protocol { get; }

    /// <summary>Application's address.</summary>
    public NetAddress Source { get; }

    /// <summary>Application's port.</summary>
    public ushort SourcePort { get; }

    /// <summary>Address the application sent to.</summary>
    public NetAddress Destination { get; }

    /// <summary>Port the application sent to.</summary>
    public ushort DestinationPort { get; }

    /// <summary>The application's end.</summary>
    public NetEndpoint SourceEndpoint => new(Source, SourcePort);

    /// <summary>The end the application addressed.</summary>
    public NetEndpoint DestinationEndpoint => new(Destination, DestinationPort);

    /// <inheritdoc />
    public bool Equals(FlowKey other) =>
        Protocol == other.Protocol && SourcePort == other.SourcePort && DestinationPort == other.DestinationPort &&
        Source.Equals(other.Source) && Destination.Equals(other.Destination);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is FlowKey other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() =>
        HashCode.Combine(Source, Destination, (SourcePort << 16) | DestinationPort, Protocol);

    /// <summary>Equality.</summary>
    public static bool operator ==(FlowKey left, FlowKey right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(FlowKey left, FlowKey right) => !left.Equals(right);

    /// <summary>A short text such as <c>udp 10.200.0.1:40000-&gt;10.201.0.2:7</c>.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{IpProtocols.Name(Protocol)} {SourceEndpoint}->{DestinationEndpoint}");
}
