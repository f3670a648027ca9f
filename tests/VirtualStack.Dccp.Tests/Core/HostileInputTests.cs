using VirtualStack.Contracts.Net;
using VirtualStack.Dccp.Tests.Support;
using VirtualStack.Plugins.Dccp.Core;
using VirtualStack.Plugins.Dccp.Protocol;

namespace VirtualStack.Dccp.Tests.Core;

/// <summary>
/// Out-of-window, forged and malformed packets against a live connection and a listener (RFC 4340 §7.5): none
/// changes state, each is counted by reason, Syncs are rate limited, and half-open state stays bounded.
/// </summary>
public class HostileInputTests
{
    private static byte[] Forge(DccpConnectionCore victim, DccpPacketType type, ulong seq, ulong ack, DccpResetCode code = DccpResetCode.Aborted, byte[]? payload = null)
    {
        // A packet as if from the victim's peer (ports swapped), with a correct checksum.
        byte[] buffer = new byte[1500];
        var w = new DccpPacketWriter(buffer);
        w.WriteHeader(new DccpHeader
        {
            SourcePort = victim.RemotePort, DestinationPort = victim.LocalPort, Type = type,
            SequenceNumber = seq, AcknowledgementNumber = ack, ResetCode = code,
        });
        int n = w.Finish(payload ?? [], victim.RemoteAddress, victim.IsServer ? MemoryLink.AddressB : MemoryLink.AddressA);
        return buffer.AsSpan(0, n).ToArray();
    }

    [Fact]
    public void Forged_resets_and_out_of_window_packets_never_change_state()
    {
        (MemoryLink link, DccpConnectionCore client, DccpConnectionCore server) = HandshakeTests.Open();
        DataTransferTests.Transfer(link, client, link.A, server, 100, 100, TimeSpan.FromSeconds(10));
        ulong serverGss = server.Iss + 1000; // well outside the client's window
        var random = new Random(3);
        for (int i = 0; i < 200; i++)
        {
            ulong seq = (ulong)random.NextInt64(1L << 48);
            link.Inject(link.A, Forge(client, DccpPacketType.Reset, seq, (ulong)random.NextInt64(1L << 48)));
            link.Inject(link.A, Forge(client, DccpPacketType.DataAck, seq, client.Iss, payload: [1, 2, 3]));
            link.Inject(link.A, Forge(client, DccpPacketType.Close, serverGss, (ulong)random.NextInt64(1L << 48)));
        }

        Assert.Equal(DccpState.Open, client.State);
        Assert.Equal(0, client.ReceiveQueueCount);
        Assert.True(client.Drops[DccpDropReason.ResetOutOfWindow] >= 190, client.Drops.ToString());
        Assert.True(client.Drops[DccpDropReason.SequenceOutOfWindow] + client.Drops[DccpDropReason.AckOutOfWindow] >= 390, client.Drops.ToString());
        // §7.5.4: no more than 8 Syncs a second in answer, however many bad packets arrive.
        Assert.True(client.GetStats().SyncsSent <= 8, $"{client.GetStats().SyncsSent} syncs");
        Assert.True(client.Drops[DccpDropReason.SyncRateLimited] > 500);

        // Bad checksums are counted and dropped before any connection sees them.
        byte[] good = Forge(client, DccpPacketType.Reset, 1, 1);
        good[^1] ^= 1;
        link.Inject(link.A, good);
        Assert.Equal(1, link.A.Drops[DccpDropReason.BadChecksum]);

        // The connection still works.
        Assert.Equal(50, DataTransferTests.Transfer(link, client, link.A, server, 50, 100, TimeSpan.FromSeconds(10)).Count);
    }

    [Fact]
    public void Burst_loss_beyond_the_sequence_window_is_recovered_with_sync_and_syncack()
    {
        (MemoryLink link, DccpConnectionCore client, DccpConnectionCore server) = HandshakeTests.Open();
        // Lose 150 consecutive packets of the client: more than 3/4 of the peer's Sequence Window of 100, so the
        // next packet that arrives is beyond SWH and the server answers it with a Sync (§7.5.3).
        int lost = 0;
        link.Loss = (p, from) => from == MemoryLink.AddressA && lost++ < 150;
        for (int i = 0; i < 150; i++)
        {
            client.TrySend(new byte[10], link.Now);
        }

        link.A.Touch(client);
        link.Run(TimeSpan.FromSeconds(10));
        link.Loss = null;
        int early = 0;
        Assert.True(link.RunUntil(() =>
        {
            while (server.TryReceive(new byte[100]) >= 0)
            {
                early++;
            }

            return client.SendQueueCount == 0 && client.Sender.Pipe == 0;
        }, TimeSpan.FromSeconds(60)));
        link.Run(TimeSpan.FromSeconds(1));
        while (server.TryReceive(new byte[100]) >= 0)
        {
            early++;
        }

        List<int> got = DataTransferTests.Transfer(link, client, link.A, server, 100, 100, TimeSpan.FromSeconds(30));
        Assert.True(server.GetStats().SyncsSent >= 1 || server.Drops[DccpDropReason.SequenceOutOfWindow] == 0);
        Assert.True(got.Count >= 95, $"got {got.Count}; server drops {server.Drops}");
        Assert.Equal(DccpState.Open, client.State);
        Assert.Equal(DccpState.Open, server.State);
    }

    [Fact]
    public void Request_flood_keeps_half_open_state_bounded()
    {
        var options = new DccpProtocolOptions { MaxHalfOpen = 64, RespondTimeout = TimeSpan.FromSeconds(2), ResetsPerSecond = 50 };
        var link = new MemoryLink(options);
        var accepted = new AcceptQueue();
        link.B.Listen(5001, [0], accepted);
        link.Loss = (_, from) => from == MemoryLink.AddressB; // the flood never completes a handshake
        byte[] buffer = new byte[64];
        for (int i = 0; i < 10_000; i++)
        {
            var w = new DccpPacketWriter(buffer);
            w.WriteHeader(new DccpHeader { SourcePort = (ushort)(1024 + i), DestinationPort = 5001, Type = DccpPacketType.Request, SequenceNumber = (ulong)i });
            int n = w.Finish([], MemoryLink.AddressA, MemoryLink.AddressB);
            link.Inject(link.B, buffer.AsSpan(0, n).ToArray());
        }

        Assert.Equal(64, link.B.ConnectionCount);
        Assert.Equal(10_000 - 64, link.B.Drops[DccpDropReason.ListenerBusy]);
        Assert.True(link.B.Drops[DccpDropReason.ResetRateLimited] >= 10_000 - 64 - 50);
        link.Run(TimeSpan.FromSeconds(3)); // RESPOND times out
        Assert.Equal(0, link.B.ConnectionCount);
        Assert.Empty(accepted.Accepted);

        // A genuine client gets in afterwards.
        link.Loss = null;
        DccpConnectionCore client = link.A.Connect(MemoryLink.AddressB, 5001, 0, link.Now);
        Assert.True(link.RunUntil(() => client.State == DccpState.Open, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void Mandatory_unknown_feature_resets_with_mandatory_error()
    {
        (MemoryLink link, DccpConnectionCore client, DccpConnectionCore server) = HandshakeTests.Open();
        byte[] buffer = new byte[128];
        var w = new DccpPacketWriter(buffer);
        w.WriteHeader(new DccpHeader
        {
            SourcePort = server.LocalPort, DestinationPort = client.LocalPort, Type = DccpPacketType.Ack,
            SequenceNumber = SequenceNumber.Add(server.Iss, 50), AcknowledgementNumber = SequenceNumber.Add(client.Iss, 1),
        });
        w.TryAddFeature(DccpOptionType.ChangeL, 120, [1], mandatory: true);
        int n = w.Finish([], MemoryLink.AddressB, MemoryLink.AddressA);
        link.Inject(link.A, buffer.AsSpan(0, n).ToArray());
        Assert.Equal(DccpState.Closed, client.State);
        Assert.Equal(DccpResetCode.MandatoryError, client.ResetCode);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    public void Mutated_packets_with_valid_checksums_never_throw_or_corrupt_state(int seed)
    {
        (MemoryLink link, DccpConnectionCore client, DccpConnectionCore server) = HandshakeTests.Open(new MemoryLink(seed: seed));
        link.Record = true;
        DataTransferTests.Transfer(link, client, link.A, server, 200, 64, TimeSpan.FromSeconds(10));
        var samples = link.Sent.ToArray();
        var random = new Random(seed);
        for (int i = 0; i < 20_000; i++)
        {
            (byte[] original, NetAddress from) = samples[random.Next(samples.Length)];
            byte[] p = (byte[])original.Clone();
            int flips = random.Next(1, 4);
            for (int f = 0; f < flips; f++)
            {
                p[random.Next(p.Length)] = (byte)random.Next(256);
            }

            if (DccpPacket.TryParse(p, out _) is DccpParseResult.Ok && p.Length >= 12)
            {
                DccpChecksum.Write(p, from, from == MemoryLink.AddressA ? MemoryLink.AddressB : MemoryLink.AddressA);
            }

            DccpDemux target = from == MemoryLink.AddressA ? link.B : link.A;
            link.Inject(target, p);
            Assert.True(Enum.IsDefined(client.State) && Enum.IsDefined(server.State));
        }

        link.Run(TimeSpan.FromSeconds(5));
        Assert.True(link.A.Drops.Total + link.B.Drops.Total > 1000);
    }
}
