using System.Globalization;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Plugins.Dccp.Stack;

/// <summary>How a Dccp stack carries DCCP: straight over IP, or inside UDP (RFC 6773).</summary>
internal enum DccpTransportKind
{
    /// <summary>IP protocol 33 through a raw socket (root or CAP_NET_RAW).</summary>
    Raw,
    /// <summary>DCCP-UDP (RFC 6773), for paths that pass only UDP.</summary>
    Udp,
}

/// <summary>A Dccp stack's options (<c>Stacks:&lt;name&gt;:*</c>), validated before anything on the system is touched.</summary>
internal sealed record DccpStackSettings(
    int Ccid,
    uint Service,
    DccpTransportKind Transport,
    ushort Port,
    int Mtu,
    int SendQueue,
    int DeadPeerMs,
    int ConnectTimeoutMs,
    int StatsLogMs,
    bool EarlyOpen)
{
    /// <summary>What the stack takes, for messages.</summary>
    public const string Keys = "Ccid (2), Service (service code, 0), Transport (raw|udp, raw), Port (far UDP port for udp, 0 = the DCCP port), "
        + "Mtu (1500), SendQueue (datagrams queued per connection while the window is full, 1024), "
        + "DeadPeerMs (reconnect when the far end answered nothing this long, 2000; 0 never), ConnectTimeoutMs (5000), "
        + "StatsLogMs (log every connection's cwnd, RTT and losses this often, 0 never), "
        + "EarlyOpen (true: a flow is ready as soon as the Request is sent and its datagrams wait for the handshake; false)";

    public static DccpStackSettings Default { get; } = new(2, 0, DccpTransportKind.Raw, 0, 1500, 1024, 2000, 5000, 0, false);

    /// <summary>Parses and checks the options; returns null and the problem (naming the option) when they are not valid.</summary>
    public static DccpStackSettings? TryParse(StackOptions options, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(options);
        DccpStackSettings s = Default;
        foreach ((string key, string value) in options.Values)
        {
            problem = key.ToUpperInvariant() switch
            {
                "CCID" => Int(key, value, 2, 2, "only CCID 2 (TCP-like, RFC 4341) is implemented", out int ccid) ?? Set(ref s, s with { Ccid = ccid }),
                "SERVICE" => TryParseService(value, out uint service) ? Set(ref s, s with { Service = service })
                    : $"Service: '{value}' is not a service code (a number from 0 to 4294967294, decimal or 0x hex, or four ASCII characters).",
                "TRANSPORT" => value.ToUpperInvariant() switch
                {
                    "RAW" => Set(ref s, s with { Transport = DccpTransportKind.Raw }),
                    "UDP" => Set(ref s, s with { Transport = DccpTransportKind.Udp }),
                    _ => $"Transport: '{value}' is not raw or udp.",
                },
                "PORT" => Int(key, value, 0, 65535, "the far end's UDP port for Transport udp; 0 uses the DCCP port", out int port) ?? Set(ref s, s with { Port = (ushort)port }),
                "MTU" => Int(key, value, 576, 65535, "path MTU in bytes", out int mtu) ?? Set(ref s, s with { Mtu = mtu }),
                "SENDQUEUE" => Int(key, value, 1, 65536, "datagrams queued per connection while CCID 2's window is full", out int queue) ?? Set(ref s, s with { SendQueue = queue }),
                "DEADPEERMS" => Int(key, value, 0, 3_600_000, "milliseconds without an answer before the connection is given up and rebuilt", out int dead) ?? Set(ref s, s with { DeadPeerMs = dead }),
                "STATSLOGMS" => Int(key, value, 0, 3_600_000, "milliseconds between log lines with each connection's cwnd, RTT and losses; 0 never", out int stats) ?? Set(ref s, s with { StatsLogMs = stats }),
                "EARLYOPEN" => bool.TryParse(value, out bool early) ? Set(ref s, s with { EarlyOpen = early }) : $"EarlyOpen: '{value}' is not true or false.",
                "CONNECTTIMEOUTMS" => Int(key, value, 100, 600_000, "milliseconds a handshake may take", out int connect) ?? Set(ref s, s with { ConnectTimeoutMs = connect }),
                _ => $"unknown option '{key}' for a {options.Plugin} stack (it takes: {Keys}).",
            };
            if (problem is not null)
            {
                return null;
            }
        }

        problem = null;
        return s;
    }

    /// <summary>Parses a service code: decimal, 0x hex, or up to four ASCII characters (RFC 5595 style, e.g. RTPV).</summary>
    public static bool TryParseService(string text, out uint value)
    {
        if (uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value)
            || (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                && uint.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)))
        {
            return value != uint.MaxValue; // 4294967295 is the invalid service code (RFC 4340 §8.1.2)
        }

        value = 0;
        if (text.Length is 0 or > 4)
        {
            return false;
        }

        foreach (char c in text)
        {
            if (c is < (char)32 or > (char)126)
            {
                return false;
            }

            value = (value << 8) | c;
        }

        return true;
    }

    private static string? Set(ref DccpStackSettings target, DccpStackSettings value)
    {
        target = value;
        return null;
    }

    private static string? Int(string key, string text, int min, int max, string meaning, out int value)
    {
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value))
        {
            return $"{key}: '{text}' is not an integer ({meaning}).";
        }

        return value < min || value > max ? $"{key}: {value} is out of range, it must be between {min} and {max} ({meaning})." : null;
    }
}
