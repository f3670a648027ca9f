using System.Globalization;

namespace VirtualStack.Contracts.Stacks;

/// <summary>
/// A configured stack's name and its options, flattened to strings (nested keys joined with ':'). Plain BCL types
/// keep the configuration system out of the plugin ABI.
/// </summary>
public sealed class StackOptions
{
    /// <summary>Creates options.</summary>
    public StackOptions(string name, string plugin, IReadOnlyDictionary<string, string> values)
    {
        Name = name;
        Plugin = plugin;
        Values = values;
    }

    /// <summary>The configured stack's name (the key under <c>Stacks</c>, e.g. <c>udp</c>).</summary>
    public string Name { get; }

    /// <summary>The plugin stack type that implements it.</summary>
    public string Plugin { get; }

    /// <summary>All option values except <c>Plugin</c>, keys compared case-insensitively.</summary>
    public IReadOnlyDictionary<string, string> Values { get; }

    /// <summary>Reads an option or returns null.</summary>
    public string? Get(string key) => Values.TryGetValue(key, out string? value) ? value : null;

    /// <summary>Reads an integer option. Throws <see cref="FormatException"/> naming the key when it is not one.</summary>
    public int GetInt32(string key, int defaultValue)
    {
        string? text = Get(key);
        if (text is null)
        {
            return defaultValue;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new FormatException($"Stacks:{Name}:{key}: '{text}' is not an integer.");
    }
}
