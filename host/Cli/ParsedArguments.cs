namespace VirtualStack.Host.Cli;

/// <summary>
/// A command's arguments: named options (<c>--name value</c> or <c>--name=value</c>), flags, positional words, and
/// configuration overrides (options whose name holds a ':' such as <c>--Tun:Name=vs1</c>).
/// </summary>
internal sealed class ParsedArguments
{
    private readonly Dictionary<string, string> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public List<string> Positional { get; } = [];

    public Dictionary<string, string> Overrides { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Parses <paramref name="args"/>; <paramref name="flags"/> are the options that take no value.</summary>
    public static ParsedArguments Parse(IReadOnlyList<string> args, params string[] flags)
    {
        var parsed = new ParsedArguments();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg is "-h")
            {
                parsed._flags.Add("help");
                continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                parsed.Positional.Add(arg);
                continue;
            }

            string name = arg[2..];
            string? value = null;
            int equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }

            if (value is null && (flags.Contains(name) || name == "help"))
            {
                parsed._flags.Add(name);
                continue;
            }

            if (value is null)
            {
                if (i + 1 >= args.Count)
                {
                    throw new UsageException($"--{name} needs a value");
                }

                value = args[++i];
            }

            if (name.Contains(':', StringComparison.Ordinal))
            {
                parsed.Overrides[name] = value;
            }
            else
            {
                parsed._options[name] = value;
            }
        }

        return parsed;
    }

    public bool Help => _flags.Contains("help");

    public bool Flag(string name)
    {
        _used.Add(name);
        return _flags.Contains(name);
    }

    public string? Option(string name)
    {
        _used.Add(name);
        return _options.TryGetValue(name, out string? value) ? value : null;
    }

    public int Int(string name, int fallback, int min, int max)
    {
        string? text = Option(name);
        if (text is null)
        {
            return fallback;
        }

        if (!int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int value) || value < min || value > max)
        {
            throw new UsageException($"--{name}: '{text}' is not a whole number from {min} to {max}");
        }

        return value;
    }

    /// <summary>Fails on any option the command did not ask for (call after reading them all).</summary>
    public void RejectUnknown(int maxPositional = 0)
    {
        foreach (string name in _options.Keys.Concat(_flags))
        {
            if (name != "help" && !_used.Contains(name))
            {
                throw new UsageException($"unknown option --{name} (see --help)");
            }
        }

        if (Positional.Count > maxPositional)
        {
            throw new UsageException($"unexpected argument '{Positional[maxPositional]}' (see --help)");
        }
    }
}
