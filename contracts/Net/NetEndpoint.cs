using System.Globalization;
using System.Net;

namespace VirtualStack.Contracts.Net;

/// <summary>An address and a port, as a value (the allocation-free twin of <see cref="IPEndPoint"/>).</summary>
/// <param name="Address">The address.</param>
/// <param name="Port">The port (0 where the protocol has none).</param>
public readonly record struct NetEndpoint(NetAddress Address, ushort Port)
{
    /// <summary>Converts to <see cref="IPEndPoint"/> (allocates: not for the data path).</summary>
    public IPEndPoint ToIPEndPoint() => new(Address.ToIPAddress(), Port);

    /// <summary>Converts from <see cref="IPEndPoint"/>.</summary>
    public static NetEndpoint FromIPEndPoint(IPEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return new NetEndpoint(NetAddress.FromIPAddress(endpoint.Address), (ushort)endpoint.Port);
    }

    /// <summary>Parses <c>a.b.c.d:port</c> or <c>[v6]:port</c>.</summary>
    public static bool TryParse(string? text, out NetEndpoint endpoint)
    {
        endpoint = default;
        if (text is null || !IPEndPoint.TryParse(text, out IPEndPoint? ip) || ip.Port is < 1 or > ushort.MaxValue)
        {
            return false;
        }

        // IPEndPoint.TryParse accepts a bare address with port 0; an endpoint here always names its port.
        if (!text.Contains(':', StringComparison.Ordinal) || (text.StartsWith('[') && !text.Contains("]:", StringComparison.Ordinal)))
        {
            return false;
        }

        endpoint = FromIPEndPoint(ip);
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => Address.IsV4
        ? string.Create(CultureInfo.InvariantCulture, $"{Address}:{Port}")
        : string.Create(CultureInfo.InvariantCulture, $"[{Address}]:{Port}");
}
