using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;

namespace VirtualStack.Plugins.Tests.Nat;

internal static class NatTestData
{
    /// <summary>An application flow to 10.201.0.2:7.</summary>
    public static readonly FlowKey Flow = new(IpProtocols.Udp, NetAddress.Parse("10.200.0.1"), 40_000, NetAddress.Parse("10.201.0.2"), 7);

    public static NetEndpoint At(string text) =>
        NetEndpoint.TryParse(text, out NetEndpoint endpoint) ? endpoint : throw new FormatException(text);

    public static Dictionary<string, string> Map(params (string Stack, string FarEnd)[] entries) =>
        entries.ToDictionary(e => e.Stack, e => e.FarEnd);
}
