using System.Globalization;
using VirtualStack.Contracts.Net;

namespace VirtualStack.Plugins.Nat;

/// <summary>
/// Where one stack of a rule sends: a whole far end (<c>a.b.c.d:port</c>, <c>[v6]:port</c>), a new address that
/// keeps the port the application used (<c>a.b.c.d</c>, <c>v6</c>, <c>[v6]</c>), or a new port that keeps the
/// address (<c>:port</c>).
/// </summary>
internal readonly record struct NatTarget(NetAddress Address, bool HasAddress, ushort Port, bool HasPort)
{
    private const string Forms = "write a.b.c.d:port, [v6]:port, a.b.c.d or v6 (keeps the port) or :port (keeps the address)";

    /// <summary>A target that replaces both address and port.</summary>
    public static NatTarget Endpoint(NetEndpoint farEnd) => new(farEnd.Address, true, farEnd.Port, true);

    /// <summary>The far end for a flow that addressed <paramref name="destination"/>.</summary>
    public NetEndpoint Apply(NetEndpoint destination) =>
        new(HasAddress ? Address : destination.Address, HasPort ? Port : destination.Port);

    /// <summary>Parses one map value; on failure <paramref name="problem"/> says what is wrong with it.</summary>
    public static bool TryParse(string? text, out NatTarget target, out string? problem)
    {
        problem = Parse(text?.Trim() ?? string.Empty, out target);
        return problem is null;
    }

    public override string ToString() => (HasAddress, HasPort) switch
    {
        (true, true) => new NetEndpoint(Address, Port).ToString(),
        (true, false) => Address.IsV4 ? Address.ToString() : $"[{Address}]",
        (false, true) => ":" + Port.ToString(CultureInfo.InvariantCulture),
        _ => "(unchanged)",
    };

    private static string? Parse(string value, out NatTarget target)
    {
        target = default;
        if (value.Length == 0)
        {
            return "the far end is empty; " + Forms + ".";
        }

        string addressText;
        string? portText = null;
        bool bracketed = false;
        if (value[0] == ':' && !value.StartsWith("::", StringComparison.Ordinal))
        {
            // ":port" (but "::1" is an IPv6 address).
            addressText = string.Empty;
            portText = value[1..];
        }
        else if (value[0] == '[')
        {
            int close = value.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return "'[' without a closing ']'; " + Forms + ".";
            }

            bracketed = true;
            addressText = value[1..close];
            string rest = value[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    return $"unexpected '{rest}' after ']'; " + Forms + ".";
                }

                portText = rest[1..];
            }
        }
        else if (value.Count(':') == 1)
        {
            int colon = value.IndexOf(':', StringComparison.Ordinal);
            addressText = value[..colon];
            portText = value[(colon + 1)..];
        }
        else
        {
            // No colon: an IPv4 address; two or more: a bare IPv6 address. Either keeps the application's port.
            addressText = value;
        }

        NetAddress address = default;
        if (addressText.Length > 0 && ParseAddress(addressText, bracketed, portText is not null, out address) is { } addressProblem)
        {
            return addressProblem;
        }

        ushort port = 0;
        if (portText is not null && ParsePort(portText, out port) is { } portProblem)
        {
            return portProblem;
        }

        target = new NatTarget(address, addressText.Length > 0, port, portText is not null);
        return null;
    }

    private static string? ParseAddress(string text, bool bracketed, bool withPort, out NetAddress address)
    {
        if (!NetAddress.TryParse(text, out address) || text.Contains('%', StringComparison.Ordinal))
        {
            return $"'{text}' is not an IP address (host names are not resolved); " + Forms + ".";
        }

        if (bracketed && address.IsV4)
        {
            return $"'[{text}]': only IPv6 addresses go in brackets; write an IPv4 far end as a.b.c.d:port.";
        }

        // "fd00::2:7007" would be ambiguous; NetAddress would not take it anyway, but "v4:port" must really be IPv4.
        return !bracketed && withPort && !address.IsV4 ? $"an IPv6 address with a port goes in brackets: [{text}]:port." : null;
    }

    private static string? ParsePort(string text, out ushort port) =>
        ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port != 0
            ? null
            : $"'{text}' is not a port: it must be a number from 1 to 65535.";
}
