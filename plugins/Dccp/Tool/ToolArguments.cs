using System.Globalization;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Stack;

namespace VirtualStack.Plugins.Dccp.Tool;

/// <summary>Bad usage of <c>vs dccp</c>: the message names the option and what is wrong (exit status 2).</summary>
internal sealed class ToolUsageException(string message) : Exception(message);

/// <summary>
/// The options of a <c>vs dccp</c> subcommand: <c>--name value</c> or <c>--name=value</c>, and flags. Every option
/// must be read by the command, so that a misspelt one is reported instead of ignored.
/// </summary>
internal sealed class ToolArguments
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public static ToolArguments Parse(IEnumerable<string> arguments, params string[] flags)
    {
        var parsed = new ToolArguments();
        using IEnumerator<string> e = arguments.GetEnumerator();
        while (e.MoveNext())
        {
            string arg = e.Current;
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new ToolUsageException($"unexpected argument '{arg}' (see vs dccp --help)");
            }

            string name = arg[2..];
            int equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                parsed._values[name[..equals]] = name[(equals + 1)..];
            }
            else if (Array.IndexOf(flags, name) >= 0)
            {
                parsed._flags.Add(name);
            }
            else if (e.MoveNext())
            {
                parsed._values[name] = e.Current;
            }
            else
            {
                throw new ToolUsageException($"--{name} needs a value");
            }
        }

        return parsed;
    }

    public bool Flag(string name)
    {
        _read.Add(name);
        return _flags.Contains(name);
    }

    public string? Text(string name)
    {
        _read.Add(name);
        return _values.TryGetValue(name, out string? value) ? value : null;
    }

    public int Int(string name, int fallback, int min, int max)
    {
        string? text = Text(name);
        if (text is null)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max
            ? value
            : throw new ToolUsageException($"--{name}: '{text}' is not a whole number from {min} to {max}");
    }

    public NetEndpoint? Endpoint(string name)
    {
        string? text = Text(name);
        if (text is null)
        {
            return null;
        }

        return NetEndpoint.TryParse(text, out NetEndpoint endpoint)
            ? endpoint
            : throw new ToolUsageException($"--{name}: '{text}' is not HOST:PORT (a.b.c.d:port or [v6]:port)");
    }

    public NetAddress? Address(string name)
    {
        string? text = Text(name);
        if (text is null)
        {
            return null;
        }

        return NetAddress.TryParse(text, out NetAddress address)
            ? address
            : throw new ToolUsageException($"--{name}: '{text}' is not an IPv4 or IPv6 address");
    }

    public uint? Service(string name)
    {
        string? text = Text(name);
        if (text is null)
        {
            return null;
        }

        return DccpStackSettings.TryParseService(text, out uint value)
            ? value
            : throw new ToolUsageException($"--{name}: '{text}' is not a service code (0 to 4294967294, decimal or 0x hex, or up to four ASCII characters)");
    }

    public DccpTransportKind Transport()
    {
        string? text = Text("transport");
        return text?.ToUpperInvariant() switch
        {
            null or "RAW" => DccpTransportKind.Raw,
            "UDP" => DccpTransportKind.Udp,
            _ => throw new ToolUsageException($"--transport: '{text}' is not raw or udp"),
        };
    }

    /// <summary>Throws for any option the command did not read.</summary>
    public void RejectUnknown()
    {
        foreach (string name in _values.Keys.Concat(_flags))
        {
            if (!_read.Contains(name))
            {
                throw new ToolUsageException($"unknown option --{name} (see vs dccp --help)");
            }
        }
    }
}
