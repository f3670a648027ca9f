using System.Text.Json.Nodes;

namespace VirtualStack.Host.Bench;

/// <summary>The rules of the benchmark configurations (README "Configuration": Rules).</summary>
internal static class BenchRules
{
    /// <summary>UDP to <paramref name="port"/> on <paramref name="stack"/>.</summary>
    public static JsonObject Udp(string name, int port, string stack) => new()
    {
        ["Name"] = name,
        ["Match"] = new JsonObject { ["Protocol"] = "udp", ["DestinationPort"] = port },
        ["Stacks"] = new JsonArray(stack),
    };

    /// <summary>All UDP to <paramref name="destination"/> (a prefix), any port, on <paramref name="stack"/>.</summary>
    public static JsonObject UdpTo(string name, string destination, string stack) => new()
    {
        ["Name"] = name,
        ["Match"] = new JsonObject { ["Protocol"] = "udp", ["Destination"] = destination },
        ["Stacks"] = new JsonArray(stack),
    };
}
