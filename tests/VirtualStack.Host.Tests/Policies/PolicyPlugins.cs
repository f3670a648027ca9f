using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;
using VirtualStack.Host.Plugins;
using VirtualStack.Host.Tests.Infrastructure;

namespace VirtualStack.Host.Tests.Policies;

/// <summary>
/// The Policies plugin as the host loads it: copied from where the build deployed it into a private plugins folder
/// and loaded through <see cref="PluginCatalog"/> (its own load context), so these tests see exactly what vs sees.
/// </summary>
public sealed class PolicyPlugins : IDisposable
{
    private readonly TempDirectory _directory = new();

    public PolicyPlugins()
    {
        _directory.CopyFrom(Path.Combine(BuildPaths.VsPlugins, "Policies"), "Policies");
        Catalog = PluginCatalog.Load(_directory.Path);
    }

    internal PluginCatalog Catalog { get; }

    internal IPolicyFactory Factory(string name) =>
        Catalog.FindPolicy(name) ?? throw new InvalidOperationException($"no policy {name}: {string.Join("; ", Catalog.Failures.Select(f => f.Reason))}");

    internal static PolicyOptions Options(string policy, string[] stacks, params (string Key, string Value)[] values) =>
        new("r", policy, stacks, values.ToDictionary(v => v.Key, v => v.Value, StringComparer.OrdinalIgnoreCase));

    internal string? Validate(string policy, string[] stacks, params (string Key, string Value)[] values) =>
        Factory(policy).Validate(Options(policy, stacks, values));

    internal IDecisionPolicy Create(string policy, string[] stacks, TestPolicyHost host, params (string Key, string Value)[] values)
    {
        PolicyOptions options = Options(policy, stacks, values);
        Assert.Null(Factory(policy).Validate(options));
        return Factory(policy).Create(options, host);
    }

    internal static PacketInfo Packet(byte protocol = IpProtocols.Udp, string source = "10.200.0.1", ushort sourcePort = 40000,
        string destination = "10.201.0.2", ushort destinationPort = 9000, ushort length = 100, byte dscp = 0) => new()
        {
            Length = length,
            IpVersion = 4,
            Protocol = protocol,
            Dscp = dscp,
            Flags = PacketFlags.TransportParsed,
            Flow = new FlowKey(protocol, NetAddress.Parse(source), sourcePort, NetAddress.Parse(destination), destinationPort),
        };

    public void Dispose()
    {
        Catalog.Dispose();
        _directory.Dispose();
    }
}

/// <summary>A policy host with a clock the test sets and a log the test reads.</summary>
internal sealed class TestPolicyHost(TimeProvider? time = null) : IPolicyHost
{
    public TimeProvider Time { get; } = time ?? TimeProvider.System;

    public List<string> Lines { get; } = [];

    public void Log(string message)
    {
        lock (Lines)
        {
            Lines.Add(message);
        }
    }
}

/// <summary>A wall clock the test moves, in UTC (local time = UTC so time-of-day tests do not depend on the machine).</summary>
internal sealed class ManualTime(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
}
