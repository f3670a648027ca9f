using System.Globalization;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;

namespace VirtualStack.Plugins.Policies;

/// <summary>The parsed options of <c>RuleBased</c>: its conditions in order and the default stack.</summary>
internal sealed class RuleBasedOptions
{
    /// <summary>Conditions are evaluated in order per packet, and time windows are kept as one bit each.</summary>
    public const int MaxConditions = 64;

    private static readonly string[] ConditionKeys =
        ["Stack", "Protocol", "Source", "Destination", "SourcePort", "DestinationPort", "MinSize", "MaxSize", "Dscp", "Time", "Uid", "Cgroup"];

    private RuleBasedOptions(PacketCondition[] conditions, int defaultStack)
    {
        Conditions = conditions;
        DefaultStack = defaultStack;
    }

    public PacketCondition[] Conditions { get; }

    /// <summary>Stack when no condition matches, or <see cref="PolicyChoice.Keep"/>.</summary>
    public int DefaultStack { get; }

    /// <summary>Parses and checks everything; throws <see cref="FormatException"/> naming the key.</summary>
    public static RuleBasedOptions Parse(PolicyOptions options)
    {
        var entries = new SortedDictionary<int, Dictionary<string, string>>();
        foreach ((string key, string value) in options.Values)
        {
            string[] parts = key.Split(':');
            if (!parts[0].Equals("When", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (parts.Length != 3 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            {
                throw new FormatException($"{key}: expected When:<n>:<field> (a list of conditions, each with a Stack)");
            }

            if (!entries.TryGetValue(index, out Dictionary<string, string>? fields))
            {
                entries[index] = fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            }

            fields[parts[2]] = value;
        }

        if (entries.Count > MaxConditions)
        {
            throw new FormatException($"When: {entries.Count} conditions; at most {MaxConditions}");
        }

        var conditions = new List<PacketCondition>();
        foreach ((int index, Dictionary<string, string> fields) in entries)
        {
            conditions.Add(ParseCondition($"When:{index}", fields, options));
        }

        int fallback = options.GetStack("Default", PolicyChoice.Keep);
        if (conditions.Count == 0 && options.Get("Default") is null)
        {
            throw new FormatException("When: no condition and no Default: RuleBased needs at least one of them");
        }

        return new RuleBasedOptions([.. conditions], fallback);
    }

    private static PacketCondition ParseCondition(string prefix, Dictionary<string, string> fields, PolicyOptions options)
    {
        foreach (string key in fields.Keys)
        {
            if (!Array.Exists(ConditionKeys, k => k.Equals(key, StringComparison.OrdinalIgnoreCase)))
            {
                throw new FormatException($"{prefix}:{key}: unknown field (known: {string.Join(", ", ConditionKeys)})");
            }
        }

        string? stackName = fields.GetValueOrDefault("Stack");
        if (stackName is null)
        {
            throw new FormatException($"{prefix}:Stack: is missing (which of the rule's stacks takes matching packets)");
        }

        int stack = options.StackIndex(stackName);
        if (stack < 0)
        {
            throw new FormatException($"{prefix}:Stack: '{stackName}' is not one of the rule's stacks ({string.Join(", ", options.Stacks)})");
        }

        var condition = new PacketCondition { Stack = stack };
        if (fields.GetValueOrDefault("Protocol") is { } protocol)
        {
            condition.Protocol = IpProtocols.TryParse(protocol, out byte p)
                ? p
                : throw new FormatException($"{prefix}:Protocol: '{protocol}' is not a protocol (udp, tcp, icmp, icmpv6, dccp or a number)");
        }

        condition.Source = Prefix(prefix, "Source", fields);
        condition.Destination = Prefix(prefix, "Destination", fields);
        (condition.SourcePortLow, condition.SourcePortHigh) = Range(prefix, "SourcePort", fields, ushort.MaxValue);
        (condition.DestinationPortLow, condition.DestinationPortHigh) = Range(prefix, "DestinationPort", fields, ushort.MaxValue);
        (int dscpLow, int dscpHigh) = Range(prefix, "Dscp", fields, 63);
        condition.DscpLow = (byte)dscpLow;
        condition.DscpHigh = (byte)dscpHigh;
        condition.MinSize = Number(prefix, "MinSize", fields, 0);
        condition.MaxSize = Number(prefix, "MaxSize", fields, ushort.MaxValue);
        if (condition.MinSize > condition.MaxSize)
        {
            throw new FormatException($"{prefix}:MinSize: {condition.MinSize} is larger than MaxSize {condition.MaxSize}");
        }

        if (fields.GetValueOrDefault("Time") is { } time)
        {
            condition.Time = TimeWindow.Parse($"{prefix}:Time", time);
        }

        if (fields.GetValueOrDefault("Uid") is { } uid)
        {
            condition.Uid = Users.ParseUidRange($"{prefix}:Uid", uid);
        }

        if (fields.GetValueOrDefault("Cgroup") is { } cgroup)
        {
            condition.Cgroup = cgroup.StartsWith('/') && !cgroup.Contains("//", StringComparison.Ordinal) && !cgroup.Contains('\\')
                ? cgroup
                : throw new FormatException($"{prefix}:Cgroup: '{cgroup}' is not a control group path like /system.slice/app.service (as in /proc/PID/cgroup)");
        }

        return condition;
    }

    private static NetPrefix? Prefix(string prefix, string key, Dictionary<string, string> fields)
    {
        string? text = fields.GetValueOrDefault(key);
        if (text is null)
        {
            return null;
        }

        return NetPrefix.TryParse(text, out NetPrefix value)
            ? value.Network()
            : throw new FormatException($"{prefix}:{key}: '{text}' is not an address or prefix like 10.200.0.0/24");
    }

    private static (int Low, int High) Range(string prefix, string key, Dictionary<string, string> fields, int max)
    {
        string? text = fields.GetValueOrDefault(key);
        if (text is null)
        {
            return (0, max);
        }

        int dash = text.IndexOf('-', StringComparison.Ordinal);
        string lowText = dash < 0 ? text : text[..dash];
        string highText = dash < 0 ? text : text[(dash + 1)..];
        if (int.TryParse(lowText.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int low) &&
            int.TryParse(highText.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int high) &&
            low <= high && high <= max)
        {
            return (low, high);
        }

        throw new FormatException($"{prefix}:{key}: '{text}' is not a number or a range like 10-20 within 0-{max}");
    }

    private static int Number(string prefix, string key, Dictionary<string, string> fields, int fallback)
    {
        string? text = fields.GetValueOrDefault(key);
        if (text is null)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value <= ushort.MaxValue
            ? value
            : throw new FormatException($"{prefix}:{key}: '{text}' is not a size in bytes from 0 to 65535");
    }
}
