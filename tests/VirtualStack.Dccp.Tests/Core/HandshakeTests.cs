using VirtualStack.Dccp.Tests.Support;
using VirtualStack.Plugins.Dccp.Core;
using VirtualStack.Plugins.Dccp.Protocol;

namespace VirtualStack.Dccp.Tests.Core;

public class HandshakeTests
{
    private const ushort Port = 5001;

    internal static (MemoryLink Link, DccpConnectionCore Client, DccpConnectionCore Server) Open(MemoryLink? link = null, uint service = 42)
    {
        link ??= new MemoryLink();
        var accepted = new AcceptQueue();
        link.B.Listen(Port, [service], accepted);
        DccpConnectionCore client = link.A.Connect(MemoryLink.AddressB, Port, service, link.Now);
        Assert.True(link.RunUntil(() => client.State == DccpState.Open && accepted.Accepted.Count == 1, TimeSpan.FromSeconds(30)),
            $"client {client.State}, drops A: {link.A.Drops} B: {link.B.Drops}");
        return (link, client, accepted.Accepted[0]);
    }

    [Fact]
    public void Handshake_reaches_open_on_both_sides_and_negotiates_ccid2_and_ack_vectors()
    {
        var link = new MemoryLink { Record = true };
        (_, DccpConnectionCore client, DccpConnectionCore server) = Open(link);
        Assert.Equal(DccpState.Open, server.State);
        Assert.Equal(2UL, client.Features.Local(DccpFeature.Ccid));
        Assert.Equal(2UL, client.Features.Remote(DccpFeature.Ccid));
        Assert.Equal(2UL, server.Features.Local(DccpFeature.Ccid));
        Assert.Equal(1UL, client.Features.Local(DccpFeature.SendAckVector));
        Assert.Equal(1UL, server.Features.Remote(DccpFeature.SendAckVector));
        Assert.False(client.Features.HasUnconfirmedChanges);
        Assert.False(server.Features.HasUnconfirmedChanges);

        // Request -> Response -> Ack -> Ack: the first four packets, in order, and no more before data flows.
        DccpPacketType[] types = link.Sent.Select(s => { DccpPacket.TryParse(s.Packet, out DccpPacket p); return p.Type; }).ToArray();
        Assert.Equal([DccpPacketType.Request, DccpPacketType.Response, DccpPacketType.Ack, DccpPacketType.Ack], types[..4]);
        Assert.Equal(0, link.A.Drops.Total + link.B.Drops.Total);
        Assert.Equal(client.Iss, server.Receiver.Low);
    }

    [Fact]
    public void Lost_requests_are_retransmitted_with_new_sequence_numbers_and_backoff()
    {
        var link = new MemoryLink { Record = true };
        int requests = 0;
        link.Loss = (p, _) => DccpPacket.TryParse(p, out DccpPacket d) == DccpParseResult.Ok && d.Type == DccpPacketType.Request && ++requests <= 2;
        long start = link.Now;
        (_, DccpConnectionCore client, _) = Open(link);
        var seqs = link.Sent.Where(s => s.Packet[8] >> 1 == 0).Select(s => DccpPacket.ReadUInt48(s.Packet.AsSpan(10))).ToArray();
        Assert.Equal(3, seqs.Length);
        Assert.Equal(seqs[0] + 1, seqs[1]);
        Assert.Equal(seqs[1] + 1, seqs[2]);
        // 1 s then 2 s of back-off before the third Request got through (§8.1.1).
        Assert.True(link.Now - start >= 3_000_000, $"opened after {link.Now - start} us");
        Assert.Equal(DccpState.Open, client.State);
    }

    [Fact]
    public void Lost_handshake_ack_is_recovered_by_partopen_retransmission()
    {
        var link = new MemoryLink();
        int acks = 0;
        link.Loss = (p, from) => from == MemoryLink.AddressA && p[8] >> 1 == (int)DccpPacketType.Ack && ++acks == 1;
        (_, DccpConnectionCore client, DccpConnectionCore server) = Open(link);
        Assert.Equal(DccpState.Open, client.State);
        Assert.Equal(DccpState.Open, server.State);
        Assert.True(acks >= 2);
    }

    [Fact]
    public void Wrong_service_code_is_refused_with_reset_8()
    {
        var link = new MemoryLink();
        link.B.Listen(Port, [7], new AcceptQueue());
        DccpConnectionCore client = link.A.Connect(MemoryLink.AddressB, Port, 8, link.Now);
        link.Run(TimeSpan.FromSeconds(1));
        Assert.Equal(DccpState.TimeWait, client.State);
        Assert.Equal(DccpResetCode.BadServiceCode, client.ResetCode);
        Assert.True(client.ResetByPeer);
        Assert.Equal(1, link.B.Drops[DccpDropReason.BadServiceCode]);
    }

    [Fact]
    public void Request_to_a_closed_port_gets_reset_no_connection()
    {
        var link = new MemoryLink();
        DccpConnectionCore client = link.A.Connect(MemoryLink.AddressB, 999, 0, link.Now);
        link.Run(TimeSpan.FromSeconds(1));
        Assert.Equal(DccpResetCode.NoConnection, client.ResetCode);
        Assert.Equal(1, link.B.Drops[DccpDropReason.NoConnection]);
    }

    [Fact]
    public void Unanswered_connect_times_out()
    {
        var link = new MemoryLink { Loss = (_, _) => true };
        DccpConnectionCore client = link.A.Connect(MemoryLink.AddressB, Port, 0, link.Now);
        link.Run(TimeSpan.FromSeconds(25));
        Assert.Equal(DccpState.Closed, client.State);
        Assert.Equal("connect timeout", client.CloseReason);
        Assert.Equal(0, link.A.ConnectionCount);
    }

    [Fact]
    public void Client_close_ends_in_timewait_and_server_close_via_closereq()
    {
        (MemoryLink link, DccpConnectionCore client, DccpConnectionCore server) = Open();
        client.Close(link.Now);
        link.A.Touch(client);
        Assert.True(link.RunUntil(() => server.State == DccpState.Closed && client.State == DccpState.TimeWait, TimeSpan.FromSeconds(5)));
        Assert.Equal("peer-closed", server.CloseReason);
        Assert.Equal(DccpState.TimeWait, client.State);
        Assert.Equal("closed", client.CloseReason);
        link.Run(TimeSpan.FromSeconds(3)); // TIMEWAIT (2 s in these tests) ends
        Assert.Equal(DccpState.Closed, client.State);
        Assert.Equal(0, link.A.ConnectionCount);
        Assert.Equal(0, link.B.ConnectionCount);

        (link, client, server) = Open();
        server.Close(link.Now);
        link.B.Touch(server);
        Assert.True(link.RunUntil(() => server.State == DccpState.Closed && client.State == DccpState.TimeWait, TimeSpan.FromSeconds(5)),
            $"server {server.State} client {client.State}");
        Assert.Equal("peer-closed", server.CloseReason);
    }

    [Fact]
    public void Lost_close_is_retransmitted()
    {
        (MemoryLink link, DccpConnectionCore client, DccpConnectionCore server) = Open();
        int closes = 0;
        link.Loss = (p, _) => p[8] >> 1 == (int)DccpPacketType.Close && ++closes <= 2;
        client.Close(link.Now);
        link.A.Touch(client);
        Assert.True(link.RunUntil(() => client.State == DccpState.TimeWait, TimeSpan.FromSeconds(5)));
        Assert.Equal(3, closes);
        Assert.Equal(DccpState.Closed, server.State);
    }
}
