using System.Buffers.Binary;
using VirtualStack.Dccp.Tests.Support;
using VirtualStack.Plugins.Dccp.Core;
using VirtualStack.Plugins.Dccp.Protocol;

namespace VirtualStack.Dccp.Tests.Core;

public class DataTransferTests
{
    /// <summary>Sends <paramref name="count"/> numbered datagrams as fast as the window allows; returns the numbers received in order of arrival.</summary>
    internal static List<int> Transfer(MemoryLink link, DccpConnectionCore sender, DccpDemux senderDemux, DccpConnectionCore receiver, int count, int size, TimeSpan limit)
    {
        var received = new List<int>();
        byte[] datagram = new byte[size];
        byte[] buffer = new byte[2048];
        int next = 0;
        bool Drain()
        {
            int n;
            while ((n = receiver.TryReceive(buffer)) >= 0)
            {
                Assert.Equal(size, n);
                received.Add(BinaryPrimitives.ReadInt32BigEndian(buffer));
            }

            while (next < count && sender.CanEnqueue)
            {
                BinaryPrimitives.WriteInt32BigEndian(datagram, next);
                Assert.Equal(DccpSendStatus.Queued, sender.TrySend(datagram, link.Now));
                next++;
            }

            senderDemux.Touch(sender);
            return next == count && sender.SendQueueCount == 0 && sender.Sender.Pipe == 0;
        }

        link.RunUntil(Drain, limit);
        link.Run(TimeSpan.FromMilliseconds(500)); // let the last packets and acks land
        Drain();
        return received;
    }

    [Fact]
    public void Bulk_transfer_without_loss_delivers_everything_in_order_and_opens_the_window()
    {
        (MemoryLink link, DccpConnectionCore client, DccpConnectionCore server) = HandshakeTests.Open();
        link.Record = true;
        List<int> got = Transfer(link, client, link.A, server, 3000, 1000, TimeSpan.FromSeconds(60));
        int longestVector = link.Sent.Where(x => x.From == MemoryLink.AddressB).Max(x => { DccpPacket.TryParse(x.Packet, out DccpPacket p); return p.Options.Length; });
        Assert.True(got.Count == 3000, $"got {got.Count}, drops A: {link.A.Drops} B: {link.B.Drops}; client {client.GetStats()}");
        Assert.Equal(Enumerable.Range(0, 3000), got);
        DccpConnectionStats s = client.GetStats();
        Assert.Equal(0, s.DataPacketsLost);
        Assert.Equal(0, s.CongestionEvents);
        Assert.True(s.Cwnd > 50, $"cwnd {s.Cwnd}");
        Assert.InRange(s.Rtt.TotalMilliseconds, 19, 40); // 2 × 10 ms one way plus up to one delayed ack
        Assert.Equal(3000, server.GetStats().DataPacketsReceived);
        Assert.True(link.A.Drops.Total + link.B.Drops.Total == 0, $"drops A: {link.A.Drops} B: {link.B.Drops}");
        // The receiver acknowledged every Ack Ratio packets, never every packet; the sender raised the Ack Ratio as
        // its window grew (about cwnd/8) and the receiver follows it.
        Assert.InRange(server.GetStats().PacketsSent, 100, 1500);
        Assert.True(client.Features.Local(DccpFeature.AckRatio) > 2);
        Assert.Equal(client.Features.Local(DccpFeature.AckRatio), server.Features.Remote(DccpFeature.AckRatio));
        // Acknowledgements of acknowledgements keep the receiver's Ack Vectors short (§11.4.2).
        Assert.True(longestVector <= 64, $"options up to {longestVector} bytes");
        // The window grew, so the sender raised Sequence Window/local (5 × cwnd) and the peer confirmed it.
        Assert.True(client.Features.Local(DccpFeature.SequenceWindow) > 100);
        Assert.Equal(client.Features.Local(DccpFeature.SequenceWindow), server.Features.Remote(DccpFeature.SequenceWindow));
    }

    [Fact]
    public void Data_flows_both_ways_at_once()
    {
        (MemoryLink link, DccpConnectionCore client, DccpConnectionCore server) = HandshakeTests.Open();
        byte[] buffer = new byte[2048];
        int clientGot = 0, serverGot = 0, sent = 0;
        link.RunUntil(() =>
        {
            while (client.TryReceive(buffer) >= 0) { clientGot++; }
            while (server.TryReceive(buffer) >= 0) { serverGot++; }
            while (sent < 500 && client.CanEnqueue && server.CanEnqueue)
            {
                client.TrySend(new byte[300], link.Now);
                server.TrySend(new byte[700], link.Now);
                sent++;
            }

            link.A.Touch(client);
            link.B.Touch(server);
            return clientGot == 500 && serverGot == 500;
        }, TimeSpan.FromSeconds(30));
        Assert.True(clientGot == 500 && serverGot == 500, $"{clientGot} {serverGot} drops A: {link.A.Drops} B: {link.B.Drops}; {client.GetStats()} {server.GetStats()}");
        Assert.Equal(0, client.GetStats().DataPacketsLost + server.GetStats().DataPacketsLost);
    }

    [Theory]
    [InlineData(1, 0.01)]
    [InlineData(2, 0.05)]
    public void Random_loss_is_detected_from_ack_vectors_and_halves_the_window(int seed, double lossRate)
    {
        var link = new MemoryLink(seed: seed);
        (_, DccpConnectionCore client, DccpConnectionCore server) = HandshakeTests.Open(link);
        link.Loss = (p, from) => from == MemoryLink.AddressA && p[8] >> 1 is 2 or 4 && link.Random.NextDouble() < lossRate;
        List<int> got = Transfer(link, client, link.A, server, 4000, 500, TimeSpan.FromSeconds(120));
        DccpConnectionStats s = client.GetStats();
        long dropped = link.Dropped;
        Assert.True(dropped > 0);
        Assert.Equal(4000 - dropped, got.Count); // every packet the link did not drop arrived exactly once
        Assert.Equal(got.Count, got.Distinct().Count());
        // Every loss the link caused was detected by the sender (from Ack Vectors, or an RTO at the very end).
        Assert.InRange(s.DataPacketsLost, dropped, dropped + 2);
        Assert.True(s.CongestionEvents > 0);
        Assert.True(s.Ssthresh < int.MaxValue);
        Assert.Equal(DccpState.Open, client.State);
        Assert.Equal(DccpState.Open, server.State);
    }

    [Fact]
    public void Reordering_delivers_every_packet_once()
    {
        var link = new MemoryLink(seed: 5) { JitterUs = 8_000 };
        (_, DccpConnectionCore client, DccpConnectionCore server) = HandshakeTests.Open(link);
        List<int> got = Transfer(link, client, link.A, server, 2000, 200, TimeSpan.FromSeconds(60));
        Assert.Equal(2000, got.Count);
        Assert.Equal(Enumerable.Range(0, 2000), got.Order());
        Assert.NotEqual(Enumerable.Range(0, 2000), got); // the jitter really did reorder
        Assert.Equal(0, link.B.Drops[DccpDropReason.Duplicate]);
    }

    [Fact]
    public void A_dead_path_collapses_the_window_by_timeout_and_recovers()
    {
        (MemoryLink link, DccpConnectionCore client, DccpConnectionCore server) = HandshakeTests.Open();
        Transfer(link, client, link.A, server, 500, 500, TimeSpan.FromSeconds(30));
        int before = client.GetStats().Cwnd;
        link.Loss = (_, _) => true;
        for (int i = 0; i < 20; i++)
        {
            client.TrySend(new byte[100], link.Now);
        }

        link.A.Touch(client);
        link.Run(TimeSpan.FromSeconds(3));
        DccpConnectionStats s = client.GetStats();
        Assert.True(s.Timeouts >= 1);
        Assert.Equal(1, s.Cwnd);
        Assert.True(s.Ssthresh <= Math.Max(before / 2, 2));
        link.Loss = null;
        List<int> got = Transfer(link, client, link.A, server, 300, 100, TimeSpan.FromSeconds(60));
        Assert.Equal(300, got.Count);
        Assert.True(client.GetStats().Cwnd > 1);
    }

    [Fact]
    public void Too_big_datagrams_are_refused_not_truncated()
    {
        (MemoryLink link, DccpConnectionCore client, _) = HandshakeTests.Open();
        Assert.Equal(DccpSendStatus.TooBig, client.TrySend(new byte[client.MaxPayload + 1], link.Now));
        Assert.Equal(DccpSendStatus.Queued, client.TrySend(new byte[client.MaxPayload], link.Now));
    }
}
