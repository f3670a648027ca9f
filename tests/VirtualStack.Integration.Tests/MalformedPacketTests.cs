using System.Net;
using System.Net.Sockets;
using System.Text;
using VirtualStack.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace VirtualStack.Integration.Tests;

/// <summary>
/// Malformed packets written into the TUN (truncated, wrong lengths, wrong version, bad checksums) change nothing:
/// VS keeps running and carrying traffic, and every packet it cannot carry is counted under its DropReason in
/// <c>vs status --json</c>. Packets that are well formed apart from a checksum are not VS's to repair: they are
/// carried unchanged or dropped and counted, never delivered as if they were valid.
/// </summary>
public sealed class MalformedPacketTests(ITestOutputHelper output) : IntegrationTest(output)
{
    private static readonly IPAddress App = IPAddress.Parse("10.200.0.1");
    private static readonly IPAddress App6 = IPAddress.Parse("fd00:200::1");

    [SkippableFact]
    public async Task Malformed_packets_change_nothing_and_are_counted_by_reason()
    {
        Requires.Tools("socat");
        await using var topology = await TopologyAsync();
        var echo = await Apps.UdpEchoServerAsync(topology, topology.Main.ServerV4, 5000);
        var config = new VsConfig();
        config.Rules.Add(VsRule.Udp("echo5000", 5000));
        await using var vs = await VsInstance.StartAsync(topology, config);
        var server = topology.Main.ServerV4;
        var server6 = topology.Main.ServerV6;

        // Nothing but a correct checksum would let this socket receive anything on 5999.
        using var checksumWitness = Netns.UdpSocket(topology.Server, new IPEndPoint(server, 5999));

        await UdpStackTests.AssertEchoThroughVsAsync(topology, vs, echo, new IPEndPoint(server, 5000), topology.Main.EdgeV4, "before");
        var before = StatusJson.Drops(await vs.StatusAsync());

        var valid = TestPackets.Ipv4Udp(App, server, 40000, 5999, Encoding.ASCII.GetBytes("payload"));
        var valid6 = TestPackets.Ipv6Udp(App6, server6, 40000, 5999, Encoding.ASCII.GetBytes("payload"));
        var elsewhere = TestPackets.Ipv4Udp(App, server, 40000, 5998, Encoding.ASCII.GetBytes("payload"));
        var malformed = new List<(string What, byte[] Packet, ushort EtherType, string Reason)>
        {
            ("12 bytes of IPv4", valid[..12], LibC.EthPIp, "Truncated"),
            ("12 bytes of IPv6", valid6[..12], LibC.EthPIpv6, "Truncated"),
            ("version 5", With(valid, 0, 0x55), LibC.EthPIp, "BadVersion"),
            ("version 0", With(valid, 0, 0x05), LibC.EthPIp, "BadVersion"),
            ("total length beyond the packet", TestPackets.FixIpv4HeaderChecksum(With(valid, 2, 0x03, 3, 0xe8)), LibC.EthPIp, "BadLength"),
            ("total length shorter than the header", TestPackets.FixIpv4HeaderChecksum(With(valid, 2, 0x00, 3, 0x0a)), LibC.EthPIp, "BadLength"),
            ("header length below 20", TestPackets.FixIpv4HeaderChecksum(With(valid, 0, 0x44)), LibC.EthPIp, "BadLength"),
            ("header length beyond the packet", TestPackets.FixIpv4HeaderChecksum(With(valid, 0, 0x4f)), LibC.EthPIp, "BadLength"),
            ("IPv6 payload length beyond the packet", With(valid6, 4, 0x01, 5, 0xf4), LibC.EthPIpv6, "BadLength"),
        };
        var badChecksums = new List<(string What, byte[] Packet)>
        {
            // Carried raw, and the kernel's raw socket rewrites an IPv4 header checksum anyway: aimed away from the
            // witness, it only has to change nothing.
            ("IPv4 header checksum", With(elsewhere, 10, elsewhere[10] ^ 0x5a)),
            ("UDP checksum", With(valid, 26, valid[26] ^ 0x5a)),
        };

        using (var injector = PacketInjector.Open(topology.Edge, "vs0"))
        {
            foreach (var (what, packet, etherType, _) in malformed)
            {
                Log($"inject {what}: {Convert.ToHexString(packet)}");
                injector.Send(packet, etherType);
            }

            foreach (var (what, packet) in badChecksums)
            {
                Log($"inject bad {what}: {Convert.ToHexString(packet)}");
                injector.Send(packet);
            }
        }

        var expected = malformed.GroupBy(m => m.Reason).ToDictionary(g => g.Key, g => (long)g.Count());
        var after = await WaitForDropsAsync(vs, before, expected, TimeSpan.FromSeconds(10));
        var report = string.Join(", ", expected.Keys.Select(r =>
            $"{r}: {StatusJson.Drop(before, r)} -> {StatusJson.Drop(after, r)} (expected +{expected[r]})"));
        Log(report);
        foreach (var (reason, count) in expected)
        {
            Assert.True(StatusJson.Drop(after, reason) - StatusJson.Drop(before, reason) == count,
                $"drop counters by reason: {report}\nall drops now: {Describe(after)}\n{vs.Process.Output()}");
        }

        // Changed nothing: still running, the TUN is still there, and traffic still flows both ways.
        Assert.False(vs.Process.HasExited, vs.Process.Output());
        await UdpStackTests.AssertEchoThroughVsAsync(topology, vs, echo, new IPEndPoint(server, 5000), topology.Main.EdgeV4, "after");
        Assert.True(checksumWitness.Available == 0, "a packet with a bad checksum was delivered as if it were valid");
        await vs.StopAsync();
    }

    private static async Task<IReadOnlyDictionary<string, long>> WaitForDropsAsync(
        VsInstance vs, IReadOnlyDictionary<string, long> before, Dictionary<string, long> expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var now = StatusJson.Drops(await vs.StatusAsync());
            if (expected.All(e => StatusJson.Drop(now, e.Key) - StatusJson.Drop(before, e.Key) >= e.Value) || DateTime.UtcNow > deadline)
            {
                // A little longer, so that a reason counted too often shows up as well.
                await Task.Delay(200);
                return StatusJson.Drops(await vs.StatusAsync());
            }

            await Task.Delay(100);
        }
    }

    private static string Describe(IReadOnlyDictionary<string, long> drops) =>
        string.Join(", ", drops.Select(d => $"{d.Key}={d.Value}"));

    /// <summary>A copy of <paramref name="packet"/> with bytes replaced: (offset, value) pairs.</summary>
    private static byte[] With(byte[] packet, params int[] offsetValuePairs)
    {
        var copy = (byte[])packet.Clone();
        for (var i = 0; i + 1 < offsetValuePairs.Length; i += 2)
        {
            copy[offsetValuePairs[i]] = (byte)offsetValuePairs[i + 1];
        }

        return copy;
    }
}
