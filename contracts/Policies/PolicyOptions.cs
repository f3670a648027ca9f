using System.Globalization;

namespace VirtualStack.Contracts.Policies;

/// <summary>
/// A rule's policy name, its stacks and its <c>PolicyOptions</c>, flattened to strings (nested keys joined with ':',
/// list items numbered: <c>Rules:0:Stack</c>). Plain BCL types keep the configuration system out of the plugin ABI.
/// </summary>
public sealed class PolicyOptions
{
    /// <summary>Creates options.</summary>
    public PolicyOptions(string rule, string policy, IReadOnlyList<string> stacks, IReadOnlyDictionary<string, string> values)
    {
        Rule = rule;
        Policy = policy;
        Stacks = stacks;
        Values = values;
    }

    /// <summary>The rule's name.</summary>
    public string Rule { get; }

    /// <summary>The policy name as configured.</summary>
    public string Policy { get; }

    /// <summary>The rule's stacks in order; <see cref="IDecisionPolicy.Choose"/> returns an index into this list.</summary>
    public IReadOnlyList<string> Stacks { get; }

    /// <summary>All option values, keys compared case-insensitively.</summary>
    public IReadOnlyDictionary<string, string> Values { get; }

    /// <summary>Reads an option or returns null.</summary>
    public string? Get(string key) => Values.TryGetValue(key, out string? value) ? value : null;

    /// <summary>The index of a stack of the rule by name (case-insensitive), or -1.</summary>
    public int StackIndex(string name)
    {
        for (int i = 0; i < Stacks.Count; i++)
        {
            if (string.Equals(Stacks[i], name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Returns a message naming the first option whose top-level key (before any ':') is not in
    /// <paramref name="known"/>, or null when all are known: a misspelt option must not be silently ignored.
    /// </summary>
    public string? CheckKeys(params string[] known)
    {
        foreach (string key in Values.Keys)
        {
            int colon = key.IndexOf(':', StringComparison.Ordinal);
            string top = colon < 0 ? key : key[..colon];
            if (Array.FindIndex(known, k => string.Equals(k, top, StringComparison.OrdinalIgnoreCase)) < 0)
            {
                return known.Length == 0
                    ? $"{top}: unknown option ({Policy} takes no options)"
                    : $"{top}: unknown option (known: {string.Join(", ", known)})";
            }
        }

        return null;
    }

    /// <summary>Reads a positive time span (<c>00:00:05</c>, <c>00:00:00.2</c>). Throws <see cref="FormatException"/> naming the key.</summary>
    public TimeSpan GetTimeSpan(string key, TimeSpan? defaultValue)
    {
        string? text = Get(key);
        if (text is null)
        {
            return defaultValue ?? throw new FormatException($"{key}: is missing ({Policy} needs a time span like 00:00:05)");
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out TimeSpan value) && value > TimeSpan.Zero
            ? value
            : throw new FormatException($"{key}: '{text}' is not a positive time span like 00:00:05");
    }

    /// <summary>Reads a number from <paramref name="min"/> to <paramref name="max"/>. Throws <see cref="FormatException"/> naming the key.</summary>
    public double GetDouble(string key, double defaultValue, double min, double max)
    {
        string? text = Get(key);
        if (text is null)
        {
            return defaultValue;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= min && value <= max
            ? value
            : throw new FormatException($"{key}: '{text}' is not a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>Reads the name of one of the rule's stacks and returns its index. Throws <see cref="FormatException"/> naming the key.</summary>
    public int GetStack(string key, int defaultIndex)
    {
        string? text = Get(key);
        if (text is null)
        {
            return defaultIndex;
        }

        int index = StackIndex(text);
        return index >= 0 ? index : throw new FormatException($"{key}: '{text}' is not one of the rule's stacks ({string.Join(", ", Stacks)})");
    }
}
