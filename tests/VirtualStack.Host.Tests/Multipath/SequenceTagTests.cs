using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.Configuration;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Configuration;
using VirtualStack.Host.Multipath;
using VirtualStack.Host.Tests.Infrastructure;

namespace VirtualStack.Host.Tests.Multipath;

/// <summary>
/// The sequence tag: its bytes (as docs/redundant-tag.md gives them), tagging in place on every path and probe of a
/// multipath flow, reply de-duplication, no allocation per packet, and the rule option.
/// </summary>
public sealed class SequenceTagTests
{
    private readonly RecordingStack _a = new("udpA");
    private readonly RecordingStack _b = new("udpB");

    [Fact]
    public void The_tag_bytes_are_the_documented_ones()
    {
        var tag = new byte[SequenceTag.Size];
        SequenceTag.Write(tag, 0x0A0B0C0D, 0x0102030405060708);
        Assert.Equal(Convert.FromHexString("565401000A0B0C0D0102030405060708"), tag);
        Assert.True(SequenceTag.TryRead(tag, out uint id, out ulong sequence));
        Assert.Equal((0x0A0B0C0Du, 0x0102030405060708UL), (id, sequence));
    }

    [Theory]
    [InlineData("")]
    [InlineData("565401000000000100000000000000")] // 15 bytes
    [InlineData("56550100000000010000000000000001")] // magic
    [InlineData("56540200000000010000000000000001")] // version 2
    public void Anything_else_is_not_a_tag(string hex) =>
        Assert.False(SequenceTag.TryRead(Convert.FromHexString(hex), out _, out _));

    [Fact]
    public void Flags_are_ignored_by_readers()
    {
        byte[] tag = Convert.FromHexString("565401FF0000002A0000000000000007");
        Assert.True(SequenceTag.TryRead(tag, out uint id, out ulong sequence));
        Assert.Equal((42u, 7UL), (id, sequence));
    }

    [Fact]
    public void Redundant_copies_carry_one_tag_per_packet_and_the_payload_after_it()
    {
        MultipathFlow flow = Create(PathScheduler.Redundant, new Sink());
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(DropReason.None, Send(flow, [(byte)i, 0xEE]));
        }

        Assert.Equal((3, 3), (_a.Sent.Count, _b.Sent.Count));
        uint flowId = flow.Tagger!.FlowId;
        Assert.NotEqual(0u, flowId);
        for (int i = 0; i < 3; i++)
        {
            foreach (RecordingStack stack in new[] { _a, _b })
            {
                byte[] sent = stack.Sent[i].Payload;
                Assert.Equal(SequenceTag.Size + 2, sent.Length);
                Assert.True(SequenceTag.TryRead(sent, out uint id, out ulong sequence));
                Assert.Equal((flowId, (ulong)i + 1), (id, sequence));
                Assert.Equal([(byte)i, 0xEE], sent[SequenceTag.Size..]);
            }
        }

        Assert.Equal(2 * 3, flow.Stats.BytesSent); // the application's bytes, not the tags
    }

    [Fact]
    public void A_probe_is_a_copy_with_the_same_sequence_as_the_packet_it_copies()
    {
        var link = new LinkState("to-srv2") { Up = false };
        MultipathFlow flow = Create(PathScheduler.WeightedRoundRobin, new Sink(), link);
        flow.Check(Environment.TickCount64);
        Assert.False(flow.Paths[1].Health.Up);
        link.Up = true; // a probe goes out at the next packet; the path waits for its answer only if others answer
        flow.Paths[0].Deliver(Reply(flow.Tagger!.FlowId, 1, [1]));
        Send(flow, [7]);
        Assert.Single(_b.Sent);
        Assert.Equal(1, flow.Paths[1].Probes);
        Assert.Equal(_a.Sent[^1].Payload, _b.Sent[0].Payload);
    }

    [Fact]
    public void Tagged_replies_are_delivered_once_without_the_tag_and_untagged_ones_as_they_came()
    {
        var sink = new Sink();
        MultipathFlow flow = Create(PathScheduler.Redundant, sink);
        uint id = flow.Tagger!.FlowId;
        flow.Paths[0].Deliver(Reply(id, 1, [1, 2]));
        flow.Paths[1].Deliver(Reply(id, 1, [1, 2])); // the copy on the other path
        flow.Paths[1].Deliver(Reply(id, 3, [3]));
        flow.Paths[0].Deliver(Reply(id, 2, [2]));
        flow.Paths[0].Deliver(Reply(id, 3, [3]));
        flow.Paths[0].Deliver([9, 9, 9]); // a far side that answers untagged
        flow.Paths[0].Deliver(Reply(id + 1, 1, [4])); // another flow's tag: not ours, delivered unchanged
        Assert.Equal(["0102", "03", "02", "090909", Convert.ToHexString(Reply(id + 1, 1, [4]))], sink.Payloads);
        Assert.Equal(2, flow.Tagger.ReplyDuplicates);
        Assert.Equal(2, flow.Tagger.RepliesUntagged);
        Assert.Equal(5, Interlocked.Read(ref flow.Stats.PacketsReceived));

        // Path health saw every copy.
        Assert.Equal(5, Interlocked.Read(ref flow.Paths[0].PacketsReceived));
        Assert.Equal(2, Interlocked.Read(ref flow.Paths[1].PacketsReceived));
    }

    [Fact]
    public void An_ipv6_packet_is_tagged_in_the_16_bytes_before_its_payload()
    {
        MultipathFlow flow = Create(PathScheduler.Redundant, new Sink());
        var packet = new byte[40 + 8 + 3];
        packet[0] = 0x60;
        packet[6] = IpProtocols.Udp;
        packet.AsSpan(48).Fill(0xAB);
        var info = new PacketInfo
        {
            Length = (ushort)packet.Length,
            IpVersion = 6,
            Protocol = IpProtocols.Udp,
            TransportOffset = 40,
            PayloadOffset = 48,
            PayloadLength = 3,
            Flags = PacketFlags.TransportParsed,
        };
        byte[] header = packet[..32];
        Assert.Equal(DropReason.None, flow.Send(packet, info));
        byte[] sent = _a.Sent.Single().Payload;
        Assert.Equal(packet[32..], sent);
        Assert.True(SequenceTag.TryRead(sent, out uint id, out ulong sequence));
        Assert.Equal((flow.Tagger!.FlowId, 1UL), (id, sequence));
        Assert.Equal([0xAB, 0xAB, 0xAB], sent[SequenceTag.Size..]);
        Assert.Equal(header, packet[..32]); // nothing before the 16 bytes is touched
    }

    [Fact]
    public void A_packet_without_a_whole_udp_payload_is_not_sent()
    {
        MultipathFlow flow = Create(PathScheduler.Redundant, new Sink());
        byte[] packet = Packet([1]);
        PacketInfo info = MultipathRig.UdpInfo(packet);
        info.Flags |= PacketFlags.Fragment;
        Assert.Equal(DropReason.Unsupported, flow.Send(packet, info));
        Assert.Empty(_a.Sent);
        Assert.Equal(0UL, flow.Tagger!.Sequence);
    }

    [Theory]
    [InlineData((int)PathScheduler.WeightedRoundRobin)]
    [InlineData((int)PathScheduler.Redundant)]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)] // no OSR compile inside the measured loop
    public void Tagging_and_reply_deduplication_allocate_nothing_per_packet(int scheduler)
    {
        var counting = new CountingStack();
        MultipathFlow flow = Create((PathScheduler)scheduler, new CountingSink(), null, counting, counting);
        byte[] packet = Packet(new byte[100]);
        PacketInfo info = MultipathRig.UdpInfo(packet);
        byte[] reply = Reply(flow.Tagger!.FlowId, 1, new byte[100]);
        for (int i = 0; i < 100; i++)
        {
            flow.Send(packet, info);
            flow.Paths[i % 2].Deliver(reply);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20_000; i++)
        {
            flow.Send(packet, info);
            BinaryPrimitives.WriteUInt64BigEndian(reply.AsSpan(8), (ulong)(i / 2) + 2);
            flow.Paths[i % 2].Deliver(reply);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(20_100UL, flow.Tagger.Sequence);
        Assert.Equal(10_000 + 99, flow.Tagger.ReplyDuplicates);
    }

    [Fact]
    public void The_rule_option_is_read_and_checked_before_anything_is_touched()
    {
        Assert.True(Read(Rule("\"SequenceTag\": true,")).Rules[0].SequenceTag);
        Assert.False(Read(Rule("\"SequenceTag\": false,")).Rules[0].SequenceTag);
        Assert.False(Read(Rule(string.Empty)).Rules[0].SequenceTag);
        var bad = Assert.Throws<ConfigurationException>(() => Read(Rule("\"SequenceTag\": \"yes\",")));
        Assert.Equal("VirtualStack:Rules:0:SequenceTag", bad.Key);
        Assert.Contains("'yes' is not true or false", bad.Message, StringComparison.Ordinal);
        var section = Assert.Throws<ConfigurationException>(() => Read(Rule("\"SequenceTag\": { \"On\": true },")));
        Assert.Equal("VirtualStack:Rules:0:SequenceTag", section.Key);
        string plain = """
            { "VirtualStack": { "Stacks": { "udp": { "Plugin": "Udp" }, "raw": { "Plugin": "Raw" } },
              "Rules": [ { "Name": "plain", "Match": { "Protocol": "udp" }, "Stacks": [ "udp" ], "SequenceTag": true } ] } }
            """;
        var notPaths = Assert.Throws<ConfigurationException>(() => Read(plain));
        Assert.Equal("VirtualStack:Rules:0:SequenceTag", notPaths.Key);
        Assert.Contains("applies to a rule with Paths only", notPaths.Message, StringComparison.Ordinal);
    }

    private static string Rule(string option) => $$"""
        { "VirtualStack": { "Stacks": { "udp": { "Plugin": "Udp" }, "raw": { "Plugin": "Raw" } },
          "Rules": [ { "Name": "spread", "Match": { "Protocol": "udp" }, "Scheduler": "Redundant", {{option}}
            "Paths": [ { "Name": "a", "Stack": "udp", "To": "10.201.0.2:9000" }, { "Name": "b", "Stack": "udp", "To": "10.202.0.2:9000" } ] } ] } }
        """;

    private static VsSettings Read(string json) =>
        SettingsReader.Read(new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build());

    private MultipathFlow Create(PathScheduler scheduler, IReplySink sink, LinkState? linkB = null, ITransportStack? a = null, ITransportStack? b = null) =>
        MultipathRig.Create(scheduler, a ?? _a, b ?? _b, sink, linkB, sequenceTag: true);

    private static byte[] Packet(byte[] payload) => TestPackets.Udp([10, 200, 0, 1], 5000, [10, 201, 0, 2], 9400, payload);

    private static DropReason Send(MultipathFlow flow, byte[] payload)
    {
        byte[] packet = Packet(payload);
        return flow.Send(packet, MultipathRig.UdpInfo(packet));
    }

    private static byte[] Reply(uint flowId, ulong sequence, byte[] payload)
    {
        var reply = new byte[SequenceTag.Size + payload.Length];
        SequenceTag.Write(reply, flowId, sequence);
        payload.CopyTo(reply, SequenceTag.Size);
        return reply;
    }

    private sealed class CountingSink : IReplySink
    {
        public long Delivered;

        public void Deliver(ReadOnlySpan<byte> payload) => Delivered++;

        public void Fault(string reason)
        {
        }
    }

    private sealed class Sink : IReplySink
    {
        public List<string> Payloads { get; } = [];

        public void Deliver(ReadOnlySpan<byte> payload) => Payloads.Add(Convert.ToHexString(payload));

        public void Fault(string reason)
        {
        }
    }
}
