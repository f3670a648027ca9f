using System.Buffers.Binary;
using System.Diagnostics;
using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Packets;

namespace VirtualStack.Host.Tests.Packets;

/// <summary>
/// Hostile input: the classifier and extractor run on whatever a program writes into the TUN. Spans are bounds-checked,
/// so a read out of range would throw here; on top of that every result is checked for internal consistency.
/// </summary>
public class PacketClassifierHostileInputTests
{
    private const int Iterations = 200_000;
    private static readonly TimeSpan TimeBudget = TimeSpan.FromSeconds(30);

    [Fact]
    public void Every_truncation_of_every_table_packet_is_handled()
    {
        foreach (ClassifierCase c in ClassifierCases.All.Values)
        {
            for (int length = 0; length <= c.Packet.Length; length++)
            {
                // An exact-size copy: the span ends where the packet ends, so any over-read throws.
                byte[] cut = c.Packet.AsSpan(0, length).ToArray();
                var info = default(PacketInfo);
                DropReason drop = Run(cut, ref info);

                if (c.Drop == DropReason.None && length < c.Length)
                {
                    // Cutting a good packet below its IP length must be noticed, never classified as a shorter packet.
                    Assert.NotEqual(DropReason.None, drop);
                }
            }
        }
    }

    [Fact]
    public void Random_bytes_are_handled()
    {
        var random = new Random(20240611);
        var stopwatch = Stopwatch.StartNew();
        byte[] buffer = new byte[160];
        int accepted = 0;
        for (int i = 0; i < Iterations; i++)
        {
            int length = random.Next(0, buffer.Length + 1);
            byte[] packet = new byte[length];
            random.NextBytes(packet);
            if (length > 0 && (i & 1) == 0)
            {
                // Half the time steer past the version check so the deeper parsers see random bytes too.
                packet[0] = (i & 2) == 0 ? (byte)(0x45 + random.Next(0, 11)) : (byte)(0x60 | (packet[0] & 0x0f));
                if (length >= 4)
                {
                    int ipLength = random.Next(0, length + 1);
                    if (packet[0] >> 4 == 4)
                    {
                        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)ipLength);
                    }
                    else if (length >= 6)
                    {
                        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), (ushort)Math.Max(0, ipLength - 40));
                    }
                }
            }

            var info = default(PacketInfo);
            if (Run(packet, ref info) == DropReason.None)
            {
                accepted++;
            }
        }

        Assert.True(stopwatch.Elapsed < TimeBudget, $"took {stopwatch.Elapsed}");

        // The steering must actually reach the parsers, or this test proves little.
        Assert.True(accepted > Iterations / 10, $"only {accepted} packets got past the IP header checks");
    }

    [Fact]
    public void Mutated_valid_packets_are_handled()
    {
        var random = new Random(4340);
        ClassifierCase[] seeds = [.. ClassifierCases.All.Values.Where(c => c.Drop == DropReason.None)];
        var stopwatch = Stopwatch.StartNew();
        var outcomes = new HashSet<(DropReason, PacketFlags)>();
        for (int i = 0; i < Iterations; i++)
        {
            byte[] original = seeds[random.Next(seeds.Length)].Packet;
            var packet = new List<byte>(original);
            int mutations = random.Next(1, 5);
            for (int m = 0; m < mutations && packet.Count > 0; m++)
            {
                int at = random.Next(packet.Count);
                switch (random.Next(5))
                {
                    case 0:
                        packet[at] = (byte)random.Next(256);
                        break;
                    case 1:
                        packet[at] ^= (byte)(1 << random.Next(8));
                        break;
                    case 2:
                        packet.RemoveRange(at, packet.Count - at);
                        break;
                    case 3:
                        packet.Insert(at, (byte)random.Next(256));
                        break;
                    default:
                        // Length fields are where parsers go wrong: hit them on purpose.
                        int field = random.Next(4) switch { 0 => 2, 1 => 4, 2 => 24, _ => 44 };
                        if (field + 1 < packet.Count)
                        {
                            packet[field + random.Next(2)] = (byte)random.Next(256);
                        }

                        break;
                }
            }

            var info = default(PacketInfo);
            DropReason drop = Run(packet.ToArray(), ref info);
            outcomes.Add((drop, info.Flags));
        }

        Assert.True(stopwatch.Elapsed < TimeBudget, $"took {stopwatch.Elapsed}");
        Assert.True(outcomes.Count > 20, $"mutations reached only {outcomes.Count} distinct outcomes");
    }

    /// <summary>Classifies and extracts, then checks every promise the results make about the packet.</summary>
    private static DropReason Run(byte[] packet, ref PacketInfo info)
    {
        DropReason drop = PacketClassifier.Classify(packet, ref info);
        FlowIdExtractor.Extract(packet, ref info);
        Assert.Equal(drop, info.Drop);

        if (drop != DropReason.None)
        {
            Assert.Equal(0, info.IpVersion);
            Assert.Equal(0, info.Length);
            Assert.Equal(PacketFlags.None, info.Flags);
            Assert.Equal(default, info.Flow);
            return drop;
        }

        int version = packet[0] >> 4;
        Assert.Equal(version, info.IpVersion);
        int minimum = version == 4 ? 20 : 40;
        Assert.InRange(info.Length, minimum, packet.Length);
        Assert.InRange(info.TransportOffset, minimum, info.Length);
        Assert.InRange(info.PayloadOffset, info.TransportOffset, info.Length);
        Assert.InRange(info.PayloadOffset + info.PayloadLength, info.PayloadOffset, info.Length);
        Assert.Equal(info.Protocol, info.Flow.Protocol);

        PacketFlags flags = info.Flags;
        if ((flags & PacketFlags.LaterFragment) != 0)
        {
            Assert.True((flags & PacketFlags.Fragment) != 0);
        }

        if (info.HasTransport)
        {
            Assert.Equal(PacketFlags.None, flags & (PacketFlags.TransportMalformed | PacketFlags.Fragment));
            ReadOnlySpan<byte> transport = packet.AsSpan(info.TransportOffset);
            switch (info.Protocol)
            {
                case IpProtocols.Udp:
                    Assert.Equal(info.TransportOffset + 8, info.PayloadOffset);
                    Assert.Equal(info.PayloadLength + 8, BinaryPrimitives.ReadUInt16BigEndian(transport[4..]));
                    break;
                case IpProtocols.Tcp:
                    Assert.Equal((transport[12] >> 4) * 4, info.PayloadOffset - info.TransportOffset);
                    Assert.Equal(info.Length, info.PayloadOffset + info.PayloadLength);
                    break;
                default:
                    Assert.Equal(info.Length, info.PayloadOffset + info.PayloadLength);
                    break;
            }
        }
        else
        {
            Assert.Equal(info.TransportOffset, info.PayloadOffset);
            Assert.Equal(info.Length, info.PayloadOffset + info.PayloadLength);
            Assert.Equal(0, info.Flow.SourcePort);
            Assert.Equal(0, info.Flow.DestinationPort);
            Assert.Equal(PacketFlags.None, flags & (PacketFlags.TcpSyn | PacketFlags.TcpFin | PacketFlags.TcpRst) & ~TcpFlagsAllowedWithout(flags));
        }

        return drop;
    }

    // TCP flags are reported for a complete TCP header even when the segment is a first fragment.
    private static PacketFlags TcpFlagsAllowedWithout(PacketFlags flags) =>
        (flags & PacketFlags.Fragment) != 0 ? PacketFlags.TcpSyn | PacketFlags.TcpFin | PacketFlags.TcpRst : PacketFlags.None;
}
