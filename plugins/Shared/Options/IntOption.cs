using System.Globalization;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Plugins.Shared.Options;

/// <summary>An integer stack option with its default and its allowed range.</summary>
internal sealed class IntOption(string key, int defaultValue, int min, int max, string meaning)
{
    /// <summary>Send and receive buffer of each kernel socket.</summary>
    public static readonly IntOption SocketBuffer =
        new("SocketBuffer", 4 << 20, 0, 1 << 30, "bytes of kernel send and receive buffer per socket (0 keeps the system default)");

    /// <summary>Messages one sendmmsg call carries at most, per socket.</summary>
    public static readonly IntOption SendBatch = new("SendBatch", 64, 1, 1024, "messages per sendmmsg call");

    public string Key => key;

    public int Default => defaultValue;

    public int Min => min;

    public int Max => max;

    public string Meaning => meaning;

    /// <summary>The configured value, or the default. Call <see cref="Validate"/> first.</summary>
    public int Read(StackOptions options) =>
        Find(options, key) is { } text ? int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture) : defaultValue;

    /// <summary>
    /// Checks that every configured key is one of <paramref name="known"/> and every value is in range. Returns null
    /// when they are, else a message naming the option and the problem.
    /// </summary>
    public static string? Validate(StackOptions options, IReadOnlyList<IntOption> known)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (string configured in options.Values.Keys)
        {
            if (!IsKnown(configured, known))
            {
                return $"unknown option '{configured}' for a {options.Plugin} stack (it takes: {Describe(known)}).";
            }
        }

        foreach (IntOption option in known)
        {
            if (Find(options, option.Key) is not { } text)
            {
                continue;
            }

            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
            {
                return $"{option.Key}: '{text}' is not an integer ({option.Meaning}).";
            }

            if (value < option.Min || value > option.Max)
            {
                return $"{option.Key}: {value} is out of range, it must be between {option.Min} and {option.Max} ({option.Meaning}).";
            }
        }

        return null;
    }

    /// <summary>Throws when <see cref="Validate"/> finds a problem: Create must not rely on the host having validated.</summary>
    public static void ThrowIfInvalid(StackOptions options, IReadOnlyList<IntOption> known)
    {
        if (Validate(options, known) is { } problem)
        {
            throw new ArgumentException($"Stacks:{options.Name}: {problem}", nameof(options));
        }
    }

    private static bool IsKnown(string configured, IReadOnlyList<IntOption> known)
    {
        foreach (IntOption option in known)
        {
            if (string.Equals(option.Key, configured, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static string Describe(IReadOnlyList<IntOption> known)
    {
        var names = new string[known.Count];
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = $"{known[i].Key} (default {known[i].Default})";
        }

        return string.Join(", ", names);
    }

    // Keys are matched without regard to case, whatever comparer the host's dictionary uses.
    private static string? Find(StackOptions options, string key)
    {
        foreach (KeyValuePair<string, string> pair in options.Values)
        {
            if (string.Equals(pair.Key, key, StringComparison.OrdinalIgnoreCase))
            {
                return pair.Value;
            }
        }

        return null;
    }
}
