using System.Buffers.Binary;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Core;
using VirtualStack.Plugins.Dccp.Endpoint;
using VirtualStack.Plugins.Dccp.Protocol;
using VirtualStack.Plugins.Dccp.Transport;

namespace VirtualStack.Dccp.Tests.Endpoint;

/// <summary>Two real endpoints over loopback: UDP encapsulation (any user) and raw IPv4 protocol 33 (root).</summary>
[Collection(RawLoopbackCollection.Name)]
public class LoopbackTests
{
    private static readonly NetAddress Loopback = NetAddress.Parse("127.0.0.1");

    [Fact]
    public async Task Udp_encapsulated_connection_carries_datagrams_both_ways_and_closes_cleanly()
    {
        using var serverEndpoint = new DccpEndpoint(new UdpEncapsulationTransport(Loopback));
        using var clientEndpoint = new DccpEndpoint(new UdpEncapsulationTransport(Loopback));
        ushort port = ((UdpEncapsulationTransport)serverEndpoint.Transport).UdpPort;
        using DccpListener listener = serverEndpoint.Listen(port, 7);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        Task<DccpConnection> accepting = listener.AcceptAsync(timeout.Token);
        await using DccpConnection client = await clientEndpoint.ConnectAsync(new NetEndpoint(Loopback, port), 7, timeout.Token);
        const int Count = 3000;
        Task sending = Task.Run(async () =>
        {
            byte[] datagram = new byte[1000];
            for (int i = 0; i < Count; i++)
            {
                BinaryPrimitives.WriteInt32BigEndian(datagram, i);
                await client.SendAsync(datagram, timeout.Token);
            }
        });

        await using DccpConnection server = await accepting;
        Assert.Equal(7u, server.ServiceCode);
        byte[] buffer = new byte[2000];
        int received = 0;
        var seen = new HashSet<int>();
        while (true)
        {
            // DCCP is unreliable: a datagram the loopback socket buffer dropped is lost for good, and CCID 2 learns
            // of it from the Ack Vectors. Read until every datagram is either here or known lost.
            using var quiet = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
            quiet.CancelAfter(TimeSpan.FromMilliseconds(sending.IsCompleted ? 500 : 5000));
            int n;
            try
            {
                n = await server.ReceiveAsync(buffer, quiet.Token);
            }
            catch (OperationCanceledException) when (!timeout.IsCancellationRequested)
            {
                break;
            }

            Assert.Equal(1000, n);
            Assert.True(seen.Add(BinaryPrimitives.ReadInt32BigEndian(buffer)), "duplicate datagram");
            received++;
        }

        await sending;
        DccpConnectionStats sent = client.Stats;
        Assert.Equal(Count, received + sent.DataPacketsLost);
        Assert.True(received > Count * 0.9, $"received {received} of {Count}");

        // Replies on the same connection.
        await server.SendAsync("pong"u8.ToArray(), timeout.Token);
        int m = await client.ReceiveAsync(buffer, timeout.Token);
        Assert.Equal("pong", System.Text.Encoding.ASCII.GetString(buffer, 0, m));

        DccpConnectionStats stats = client.Stats;
        Assert.Equal(Count, stats.DataPacketsSent);
        Assert.True(stats.Cwnd >= 3);
        Assert.True(stats.Rtt > TimeSpan.Zero);

        await client.CloseAsync(timeout.Token);
        Assert.Equal(DccpState.TimeWait, client.State);
        Assert.Equal("closed", client.CloseReason);
        await server.WaitForStateAsync(s => s == DccpState.Closed, timeout.Token);
        Assert.Equal("peer-closed", server.CloseReason);
        Assert.Equal(-1, await server.ReceiveAsync(buffer, timeout.Token));
        Assert.Equal(0, serverEndpoint.Drops[DccpDropReason.BadChecksum]);
    }

    [Fact]
    public async Task Bad_service_code_fails_the_connect_with_reset_8_and_too_big_datagrams_are_refused()
    {
        using var serverEndpoint = new DccpEndpoint(new UdpEncapsulationTransport(Loopback));
        using var clientEndpoint = new DccpEndpoint(new UdpEncapsulationTransport(Loopback));
        ushort port = ((UdpEncapsulationTransport)serverEndpoint.Transport).UdpPort;
        using DccpListener listener = serverEndpoint.Listen(port, 1);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        DccpException e = await Assert.ThrowsAsync<DccpException>(() => clientEndpoint.ConnectAsync(new NetEndpoint(Loopback, port), 2, timeout.Token));
        Assert.Equal(DccpResetCode.BadServiceCode, e.ResetCode);

        using var clientEndpoint2 = new DccpEndpoint(new UdpEncapsulationTransport(Loopback));
        await using DccpConnection c = await clientEndpoint2.ConnectAsync(new NetEndpoint(Loopback, port), 1, timeout.Token);
        Assert.Throws<ArgumentException>(() => c.TrySend(new byte[c.MaxDatagramSize + 1]));
        Assert.True(c.TrySend(new byte[c.MaxDatagramSize]));
    }

    [SkippableFact]
    public async Task Raw_ipv4_connection_over_loopback()
    {
        Skip.IfNot(Environment.IsPrivilegedProcess, "raw IP sockets need root (CAP_NET_RAW)");
        RawIpTransport transport;
        try
        {
            transport = new RawIpTransport(Loopback);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            Skip.If(true, $"cannot open a raw socket for protocol 33: {e.Message}");
            return;
        }

        // One endpoint plays both sides: a raw socket sees every DCCP packet on lo, so two endpoints on one address
        // would each answer the other's packets with Reset(No Connection).
        using var endpoint = new DccpEndpoint(transport);
        ushort port = (ushort)Random.Shared.Next(20000, 30000);
        using DccpListener listener = endpoint.Listen(port, 0);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Task<DccpConnection> accepting = listener.AcceptAsync(timeout.Token);
        await using DccpConnection client = await endpoint.ConnectAsync(new NetEndpoint(Loopback, port), 0, timeout.Token);
        for (int i = 0; i < 500; i++)
        {
            await client.SendAsync(new byte[1200], timeout.Token);
        }

        await using DccpConnection server = await accepting;
        byte[] buffer = new byte[2000];
        for (int i = 0; i < 500; i++)
        {
            Assert.Equal(1200, await server.ReceiveAsync(buffer, timeout.Token));
        }

        await client.CloseAsync(timeout.Token);
        Assert.Equal("closed", client.CloseReason);
        Assert.Equal(0, endpoint.Drops[DccpDropReason.BadChecksum]);
    }
}
