using System.Text.Json.Nodes;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>A rule of the configuration: traffic of <see cref="Protocol"/> to <see cref="DestinationPort"/> goes to
/// <see cref="Stacks"/>; <see cref="Nat"/> maps a stack to the real far end ("udp" -> "10.201.0.2:7007");
/// <see cref="Policy"/> and <see cref="PolicyOptions"/> choose between the stacks (left out when null).</summary>
internal sealed record VsRule(
    string Name, string Protocol, int DestinationPort, IReadOnlyList<string> Stacks,
    IReadOnlyDictionary<string, string>? Nat = null, string? Policy = null, IReadOnlyDictionary<string, string>? PolicyOptions = null)
{
    /// <summary>UDP to <paramref name="port"/> over the udp stack, optionally re-targeted to <paramref name="natTo"/>.</summary>
    public static VsRule Udp(string name, int port, string? natTo = null) =>
        new(name, "udp", port, ["udp"], natTo is null ? null : new Dictionary<string, string> { ["udp"] = natTo });

    public JsonObject ToJson()
    {
        var rule = new JsonObject
        {
            ["Name"] = Name,
            ["Match"] = new JsonObject { ["Protocol"] = Protocol, ["DestinationPort"] = DestinationPort },
            ["Stacks"] = new JsonArray([.. Stacks.Select(s => (JsonNode)JsonValue.Create(s))]),
        };
        if (Nat is not null)
        {
            var nat = new JsonObject();
            foreach (var (stack, target) in Nat)
            {
                nat[stack] = target;
            }

            rule["Nat"] = nat;
        }

        if (Policy is not null)
        {
            rule["Policy"] = Policy;
        }

        if (PolicyOptions is not null)
        {
            var options = new JsonObject();
            foreach (var (key, value) in PolicyOptions)
            {
                options[key] = value;
            }

            rule["PolicyOptions"] = options;
        }

        return rule;
    }
}

/// <summary>
/// The configuration a test gives <c>vs run</c>, in the schema of design.md section 7 (section
/// <c>VirtualStack</c>: Tun, Plugins, Stacks, Rules, Default, Flows, Management). Defaults match the design's
/// example except that only the udp and raw stacks are named (Dccp comes with later work) and paths are absolute.
/// </summary>
internal sealed class VsConfig
{
    public string TunName { get; set; } = "vs0";

    public string Address { get; set; } = "10.200.0.1/24";

    /// <summary>Optional; null leaves the key out.</summary>
    public string? Address6 { get; set; } = "fd00:200::1/64";

    public int Mtu { get; set; } = 1500;

    public List<string> Capture { get; } = ["10.201.0.0/24", "fd00:201::/64"];

    public string PluginsPath { get; set; } = VsExecutable.PluginsDirectory;

    public Dictionary<string, JsonObject> Stacks { get; } = new(StringComparer.Ordinal)
    {
        ["udp"] = new JsonObject { ["Plugin"] = "Udp" },
        ["raw"] = new JsonObject { ["Plugin"] = "Raw" },
    };

    public List<VsRule> Rules { get; } = [];

    /// <summary>Rules written as JSON by the test (e.g. with Paths), after <see cref="Rules"/>.</summary>
    public List<JsonObject> RawRules { get; } = [];

    public string Default { get; set; } = "raw";

    public JsonObject Flows { get; } = new() { ["MaxFlows"] = 100000, ["UdpIdleTimeout"] = "00:01:00" };

    /// <summary>The management socket; <see cref="VsInstance"/> sets a private one per instance.</summary>
    public string ManagementSocket { get; set; } = "/run/virtualstack/vs.sock";

    /// <summary>The remote management interface (<c>Management.Remote</c>), left out when null.</summary>
    public JsonObject? RemoteManagement { get; set; }

    public JsonObject ToJson()
    {
        var tun = new JsonObject
        {
            ["Name"] = TunName,
            ["Address"] = Address,
            ["Mtu"] = Mtu,
            ["Capture"] = new JsonArray([.. Capture.Select(c => (JsonNode)JsonValue.Create(c))]),
        };
        if (Address6 is not null)
        {
            tun["Address6"] = Address6;
        }

        var stacks = new JsonObject();
        foreach (var (name, stack) in Stacks)
        {
            stacks[name] = stack.DeepClone();
        }

        return new JsonObject
        {
            ["VirtualStack"] = new JsonObject
            {
                ["Tun"] = tun,
                ["Plugins"] = new JsonObject { ["Path"] = PluginsPath },
                ["Stacks"] = stacks,
                ["Rules"] = new JsonArray([.. Rules.Select(r => (JsonNode)r.ToJson()), .. RawRules.Select(r => r.DeepClone())]),
                ["Default"] = Default,
                ["Flows"] = Flows.DeepClone(),
                ["Management"] = RemoteManagement is null
                    ? new JsonObject { ["Socket"] = ManagementSocket }
                    : new JsonObject { ["Socket"] = ManagementSocket, ["Remote"] = RemoteManagement.DeepClone() },
            },
        };
    }
}
