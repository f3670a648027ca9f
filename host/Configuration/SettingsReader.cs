using System.Globalization;
using Microsoft.Extensions.Configuration;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Flows;
using VirtualStack.Host.Rules;
using VirtualStack.Host.Tun;

namespace VirtualStack.Host.Configuration;

/// <summary>
/// Reads and validates the <c>VirtualStack</c> section into <see cref="VsSettings"/>. Nothing on the system is
/// touched here. Every error names the full key and what is wrong (<see cref="ConfigurationException"/>), and
/// unknown keys are errors too: a misspelt key that is silently ignored is the worst kind of configuration bug.
/// </summary>
internal static class SettingsReader
{
    public const string Root = "VirtualStack";

    private static readonly string[] RootKeys = ["Tun", "Plugins", "Stacks", "Rules", "Default", "Flows", "Management", "Pipeline"];
    private static readonly string[] TunKeys = ["Name", "Address", "Address6", "Mtu", "Capture", "TxQueueLength", "Mark", "Table", "RulePriority"];
    private static readonly string[] RuleKeys =
    [
        "Name", "Match", "Stacks", "Policy", "PolicyOptions", "Nat", "NatPlugin", "IdleTimeout",
        "Paths", "Scheduler", "PathDownAfter", "ProbeInterval", "SequenceTag", "Fallback", "FallbackAfter",
    ];

    private static readonly string[] PathKeys = ["Name", "Stack", "To", "Interface", "Weight"];
    private static readonly string[] MultipathOnlyKeys = ["Scheduler", "PathDownAfter", "ProbeInterval", "SequenceTag"];
    private static readonly string[] NotWithPathsKeys = ["Stacks", "Policy", "PolicyOptions", "Nat", "NatPlugin", "Fallback", "FallbackAfter"];
    private static readonly string[] MatchKeys = ["Protocol", "SourcePort", "DestinationPort", "Source", "Destination"];
    private static readonly string[] FlowKeys = ["MaxFlows", "HoldPackets", "UdpIdleTimeout", "TcpIdleTimeout", "IcmpIdleTimeout", "OtherIdleTimeout"];
    private static readonly string[] PipelineKeys = ["Fuse", "BatchSize", "Batches"];

    public static VsSettings Read(IConfiguration configuration)
    {
        IConfigurationSection root = configuration.GetSection(Root);
        if (!root.Exists())
        {
            throw new ConfigurationException(Root, "section is missing");
        }

        CheckKeys(root, RootKeys);
        TunSettings tun = ReadTun(root.GetSection("Tun"));
        string pluginsPath = root["Plugins:Path"] is { Length: > 0 } path ? path : "plugins";
        CheckKeys(root.GetSection("Plugins"), ["Path"]);
        List<StackSettings> stacks = ReadStacks(root.GetSection("Stacks"));
        string fallback = root["Default"] ?? "raw";
        if (!stacks.Exists(s => s.Name.Equals(fallback, StringComparison.OrdinalIgnoreCase)))
        {
            throw new ConfigurationException(Key(root, "Default"), $"'{fallback}' is not a stack defined under {Root}:Stacks");
        }

        List<RuleSettings> rules = ReadRules(root.GetSection("Rules"), stacks);
        FlowSettings flows = ReadFlows(root.GetSection("Flows"));
        CheckKeys(root.GetSection("Management"), ["Socket", "Remote"]);
        Remote.RemoteSettings? remote = Remote.RemoteSettings.Read(root.GetSection("Management:Remote"));
        string socket = root["Management:Socket"] is { Length: > 0 } s ? s : DefaultSocket(tun.Name);
        PipelineSettings pipeline = ReadPipeline(root.GetSection("Pipeline"));
        return new VsSettings(tun, pluginsPath, stacks, rules, fallback, flows, socket, pipeline) { RemoteManagement = remote };
    }

    /// <summary>Default management socket: one per TUN name, so two instances never share one.</summary>
    public static string DefaultSocket(string tunName) =>
        tunName == "vs0" ? "/run/virtualstack/vs.sock" : $"/run/virtualstack/{tunName}.sock";

    private static TunSettings ReadTun(IConfigurationSection section)
    {
        CheckKeys(section, TunKeys);
        string name = section["Name"] ?? "vs0";
        if (name.Length is 0 or > Native.TunConstants.MaxNameLength || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            throw new ConfigurationException(Key(section, "Name"), $"'{name}' is not a valid interface name (1-15 letters, digits, '-', '_', '.')");
        }

        NetPrefix address = Prefix(section, "Address") ?? NetPrefix.Parse("10.200.0.1/24");
        if (!address.Address.IsV4)
        {
            throw new ConfigurationException(Key(section, "Address"), "must be an IPv4 prefix; use Address6 for IPv6");
        }

        NetPrefix? address6 = Prefix(section, "Address6");
        if (address6 is { } v6 && v6.Address.IsV4)
        {
            throw new ConfigurationException(Key(section, "Address6"), "must be an IPv6 prefix");
        }

        int mtu = Int(section, "Mtu", 1500, address6 is null ? 576 : 1280, 65535);
        var capture = new List<NetPrefix>();
        foreach (IConfigurationSection item in Children(section.GetSection("Capture")))
        {
            if (!NetPrefix.TryParse(item.Value, out NetPrefix prefix))
            {
                throw new ConfigurationException(item.Path, $"'{item.Value}' is not an address prefix like 10.201.0.0/24");
            }

            if (!prefix.Address.IsV4 && address6 is null)
            {
                throw new ConfigurationException(item.Path, "captures IPv6 but Tun:Address6 is not set");
            }

            capture.Add(prefix.Network());
        }

        uint defaultMark = TunIdentity.DefaultMark(name);
        uint mark = UInt(section, "Mark", defaultMark);
        uint table = UInt(section, "Table", defaultMark);
        if (mark == 0)
        {
            throw new ConfigurationException(Key(section, "Mark"), "must not be 0: unmarked traffic is what gets captured");
        }

        if (table is 0 or 253 or 254 or 255)
        {
            throw new ConfigurationException(Key(section, "Table"), $"{table} is a reserved routing table");
        }

        int txqueue = Int(section, "TxQueueLength", 1000, 1, 1_000_000);
        int priority = Int(section, "RulePriority", 10000, 1, 32765);
        return new TunSettings(name, address, address6, mtu, capture, txqueue, mark, table, priority);
    }

    private static List<StackSettings> ReadStacks(IConfigurationSection section)
    {
        var stacks = new List<StackSettings>();
        foreach (IConfigurationSection stack in section.GetChildren())
        {
            string? plugin = stack["Plugin"];
            if (string.IsNullOrWhiteSpace(plugin))
            {
                throw new ConfigurationException(Key(stack, "Plugin"), "is missing: name the plugin stack type (e.g. Udp, Raw, Dccp)");
            }

            stacks.Add(new StackSettings(stack.Key, plugin, Flatten(stack, except: "Plugin")));
        }

        if (stacks.Count == 0)
        {
            throw new ConfigurationException(section.Path, "no stack is defined");
        }

        return stacks;
    }

    private static List<RuleSettings> ReadRules(IConfigurationSection section, List<StackSettings> stacks)
    {
        var rules = new List<RuleSettings>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (IConfigurationSection rule in Children(section))
        {
            CheckKeys(rule, RuleKeys);
            string name = rule["Name"] is { Length: > 0 } n ? n : $"rule{rules.Count}";
            if (!names.Add(name))
            {
                throw new ConfigurationException(Key(rule, "Name"), $"'{name}' is used by another rule");
            }

            RuleMatch match = ReadMatch(rule.GetSection("Match"));
            if (rule.GetSection("Paths").Exists())
            {
                rules.Add(ReadMultipathRule(rule, name, match, stacks));
                continue;
            }

            foreach (string key in MultipathOnlyKeys)
            {
                if (rule[key] is not null)
                {
                    throw new ConfigurationException(Key(rule, key), "applies to a rule with Paths only");
                }
            }

            var ruleStacks = new List<string>();
            foreach (IConfigurationSection item in Children(rule.GetSection("Stacks")))
            {
                string stackName = item.Value ?? string.Empty;
                if (!stacks.Exists(s => s.Name.Equals(stackName, StringComparison.OrdinalIgnoreCase)))
                {
                    throw new ConfigurationException(item.Path, $"'{stackName}' is not a stack defined under {Root}:Stacks");
                }

                ruleStacks.Add(stackName);
            }

            if (ruleStacks.Count == 0)
            {
                throw new ConfigurationException(Key(rule, "Stacks"), "a rule needs at least one stack");
            }

            string policy = rule["Policy"] is { Length: > 0 } p ? p : "Static";
            Dictionary<string, string> nat = Flatten(rule.GetSection("Nat"), except: null);
            foreach (string natStack in nat.Keys)
            {
                if (!ruleStacks.Contains(natStack, StringComparer.OrdinalIgnoreCase))
                {
                    throw new ConfigurationException($"{rule.Path}:Nat:{natStack}", $"'{natStack}' is not one of this rule's stacks ({string.Join(", ", ruleStacks)})");
                }
            }

            TimeSpan? idle = rule["IdleTimeout"] is null ? null : Time(rule, "IdleTimeout", TimeSpan.Zero);
            NetEndpoint? fallback = Endpoint(rule, "Fallback");
            if (rule["FallbackAfter"] is not null && fallback is null)
            {
                throw new ConfigurationException(Key(rule, "FallbackAfter"), "needs Fallback (the far end to move to)");
            }

            rules.Add(new RuleSettings(
                name, match, ruleStacks, policy, Flatten(rule.GetSection("PolicyOptions"), except: null), nat,
                rule["NatPlugin"] is { Length: > 0 } natPlugin ? natPlugin : "Nat", idle)
            {
                Fallback = fallback,
                FallbackAfter = Time(rule, "FallbackAfter", TimeSpan.FromSeconds(1)),
            });
        }

        return rules;
    }

    /// <summary>A rule with <c>Paths</c>: each path names its stack and far end; the scheduler replaces the policy.</summary>
    private static RuleSettings ReadMultipathRule(IConfigurationSection rule, string name, RuleMatch match, List<StackSettings> stacks)
    {
        foreach (string key in NotWithPathsKeys)
        {
            if (rule.GetSection(key).Exists())
            {
                throw new ConfigurationException(Key(rule, key),
                    "does not apply to a rule with Paths (each path names its Stack and its far end To; Scheduler chooses the path)");
            }
        }

        var paths = new List<PathSettings>();
        var pathNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (IConfigurationSection path in Children(rule.GetSection("Paths")))
        {
            CheckKeys(path, PathKeys);
            if (path.Value is not null)
            {
                throw new ConfigurationException(path.Path, "must be an object with Name, Stack, To, Interface, Weight");
            }

            string pathName = path["Name"] is { Length: > 0 } n ? n : $"path{paths.Count}";
            if (!pathNames.Add(pathName))
            {
                throw new ConfigurationException(Key(path, "Name"), $"'{pathName}' is used by another path of this rule");
            }

            if (pathName.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            {
                throw new ConfigurationException(Key(path, "Name"), $"'{pathName}' is not a valid path name (letters, digits, '-', '_', '.')");
            }

            string? stackName = path["Stack"];
            if (string.IsNullOrWhiteSpace(stackName))
            {
                throw new ConfigurationException(Key(path, "Stack"), "is missing: name the stack that carries this path (one defined under VirtualStack:Stacks)");
            }

            StackSettings stack = stacks.Find(s => s.Name.Equals(stackName, StringComparison.OrdinalIgnoreCase))
                ?? throw new ConfigurationException(Key(path, "Stack"), $"'{stackName}' is not a stack defined under {Root}:Stacks");
            string? device = path["Interface"];
            if (device is not null && (device.Length is 0 or > Native.TunConstants.MaxNameLength || device.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@'))))
            {
                throw new ConfigurationException(Key(path, "Interface"), $"'{device}' is not a valid interface name (1-15 letters, digits, '-', '_', '.')");
            }

            paths.Add(new PathSettings(pathName, stack.Name, Endpoint(path, "To"), device, Int(path, "Weight", 1, 1, 1000)));
        }

        if (paths.Count == 0)
        {
            throw new ConfigurationException(Key(rule, "Paths"), "a rule with Paths needs at least one path");
        }

        PathScheduler scheduler = PathScheduler.WeightedRoundRobin;
        if (rule["Scheduler"] is { } text &&
            (text.Any(char.IsAsciiDigit) || !Enum.TryParse(text, ignoreCase: true, out scheduler) || !Enum.IsDefined(scheduler)))
        {
            throw new ConfigurationException(Key(rule, "Scheduler"), $"'{text}' is not a scheduler (WeightedRoundRobin, LowestRtt, Redundant)");
        }

        TimeSpan downAfter = Time(rule, "PathDownAfter", TimeSpan.FromMilliseconds(300));
        TimeSpan probe = Time(rule, "ProbeInterval", TimeSpan.FromMilliseconds(100));
        if (downAfter > TimeSpan.FromSeconds(10) || downAfter < TimeSpan.FromMilliseconds(10))
        {
            throw new ConfigurationException(Key(rule, "PathDownAfter"), $"'{rule["PathDownAfter"]}' must be from 00:00:00.01 to 00:00:10");
        }

        if (probe > TimeSpan.FromSeconds(10) || probe < TimeSpan.FromMilliseconds(10))
        {
            throw new ConfigurationException(Key(rule, "ProbeInterval"), $"'{rule["ProbeInterval"]}' must be from 00:00:00.01 to 00:00:10");
        }

        TimeSpan? idle = rule["IdleTimeout"] is null ? null : Time(rule, "IdleTimeout", TimeSpan.Zero);
        string[] ruleStacks = [.. paths.Select(p => p.Stack).Distinct(StringComparer.OrdinalIgnoreCase)];
        return new RuleSettings(name, match, ruleStacks, "Static", new Dictionary<string, string>(), new Dictionary<string, string>(), "Nat", idle)
        {
            Paths = paths,
            Scheduler = scheduler,
            PathDownAfter = downAfter,
            ProbeInterval = probe,
            SequenceTag = Bool(rule, "SequenceTag"),
        };
    }

    private static NetEndpoint? Endpoint(IConfigurationSection section, string key)
    {
        string? text = section[key];
        if (text is null)
        {
            return null;
        }

        if (!NetEndpoint.TryParse(text.Trim(), out NetEndpoint endpoint))
        {
            throw new ConfigurationException(Key(section, key), $"'{text}' is not an address and port like 10.202.0.2:9000 or [fd00:202::2]:9000");
        }

        return endpoint;
    }

    private static RuleMatch ReadMatch(IConfigurationSection section)
    {
        CheckKeys(section, MatchKeys);
        byte? protocol = null;
        if (section["Protocol"] is { } text)
        {
            if (!IpProtocols.TryParse(text, out byte value))
            {
                throw new ConfigurationException(Key(section, "Protocol"), $"'{text}' is not a protocol (udp, tcp, icmp, icmpv6, dccp or a number)");
            }

            protocol = value;
        }

        return new RuleMatch(
            protocol,
            Port(section, "SourcePort"),
            Port(section, "DestinationPort"),
            Prefix(section, "Source"),
            Prefix(section, "Destination"));
    }

    private static FlowSettings ReadFlows(IConfigurationSection section)
    {
        CheckKeys(section, FlowKeys);
        FlowTimeouts d = FlowTimeouts.Default;
        var timeouts = new FlowTimeouts(
            Time(section, "UdpIdleTimeout", d.Udp),
            Time(section, "TcpIdleTimeout", d.Tcp),
            Time(section, "IcmpIdleTimeout", d.Icmp),
            Time(section, "OtherIdleTimeout", d.Other));
        return new FlowSettings(
            Int(section, "MaxFlows", 100_000, 1, 10_000_000),
            timeouts,
            Int(section, "HoldPackets", FlowSettings.DefaultHoldPackets, 0, 65_536));
    }

    private static PipelineSettings ReadPipeline(IConfigurationSection section)
    {
        CheckKeys(section, PipelineKeys);
        bool fuse = true;
        if (section["Fuse"] is { } text && !bool.TryParse(text, out fuse))
        {
            throw new ConfigurationException(Key(section, "Fuse"), $"'{text}' is not true or false");
        }

        return new PipelineSettings(fuse, Int(section, "BatchSize", 64, 1, 1024), Int(section, "Batches", 32, 2, 4096));
    }

    private static IEnumerable<IConfigurationSection> Children(IConfigurationSection section) =>
        section.GetChildren().OrderBy(c => int.TryParse(c.Key, out int i) ? i : int.MaxValue);

    private static Dictionary<string, string> Flatten(IConfigurationSection section, string? except)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (KeyValuePair<string, string?> pair in section.AsEnumerable(makePathsRelative: true))
        {
            if (pair.Value is not null && !pair.Key.Equals(except, StringComparison.OrdinalIgnoreCase))
            {
                values[pair.Key] = pair.Value;
            }
        }

        return values;
    }

    private static void CheckKeys(IConfigurationSection section, string[] known)
    {
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                throw new ConfigurationException(child.Path, $"unknown key (known here: {string.Join(", ", known)})");
            }
        }
    }

    private static string Key(IConfigurationSection section, string key) => $"{section.Path}:{key}";

    private static int Int(IConfigurationSection section, string key, int fallback, int min, int max)
    {
        string? text = section[key];
        if (text is null)
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
        {
            throw new ConfigurationException(Key(section, key), $"'{text}' is not an integer from {min} to {max}");
        }

        return value;
    }

    private static bool Bool(IConfigurationSection section, string key)
    {
        IConfigurationSection value = section.GetSection(key);
        if (!value.Exists())
        {
            return false;
        }

        if (value.Value is not { } text || !bool.TryParse(text, out bool result))
        {
            throw new ConfigurationException(value.Path, $"'{value.Value ?? "(a section)"}' is not true or false");
        }

        return result;
    }

    private static uint UInt(IConfigurationSection section, string key, uint fallback)
    {
        string? text = section[key];
        if (text is null)
        {
            return fallback;
        }

        bool hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        if (!uint.TryParse(hex ? text[2..] : text, hex ? NumberStyles.HexNumber : NumberStyles.None, CultureInfo.InvariantCulture, out uint value))
        {
            throw new ConfigurationException(Key(section, key), $"'{text}' is not a 32-bit unsigned number (decimal or 0x hex)");
        }

        return value;
    }

    private static ushort? Port(IConfigurationSection section, string key)
    {
        string? text = section[key];
        if (text is null)
        {
            return null;
        }

        if (!ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ushort port))
        {
            throw new ConfigurationException(Key(section, key), $"'{text}' is not a port (0-65535)");
        }

        return port;
    }

    private static NetPrefix? Prefix(IConfigurationSection section, string key)
    {
        string? text = section[key];
        if (text is null)
        {
            return null;
        }

        if (!NetPrefix.TryParse(text, out NetPrefix prefix))
        {
            throw new ConfigurationException(Key(section, key), $"'{text}' is not an address or prefix like 10.200.0.1/24");
        }

        return prefix;
    }

    private static TimeSpan Time(IConfigurationSection section, string key, TimeSpan fallback)
    {
        string? text = section[key];
        if (text is null)
        {
            return fallback;
        }

        if (!TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out TimeSpan value) || value <= TimeSpan.Zero)
        {
            throw new ConfigurationException(Key(section, key), $"'{text}' is not a positive time span like 00:01:00");
        }

        return value;
    }
}
