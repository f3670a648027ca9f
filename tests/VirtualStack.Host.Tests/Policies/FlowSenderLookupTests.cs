using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;
using VirtualStack.Host.Decision;

namespace VirtualStack.Host.Tests.Policies;

/// <summary>
/// The sender of a flow as the kernel tells it: real sockets of this test process are found in the kernel's socket
/// tables by the flow's source address and port, with this process's uid, pid and control groups.
/// </summary>
public sealed class FlowSenderLookupTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static int OwnUid =>
        int.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1],
            System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void A_udp_socket_is_found_with_its_owner_process_and_cgroups()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        ushort port = (ushort)((IPEndPoint)socket.LocalEndPoint!).Port;
        var flow = new FlowKey(IpProtocols.Udp, NetAddress.Parse("127.0.0.1"), port, NetAddress.Parse("10.201.0.2"), 9000);

        FlowSender? uidOnly = FlowSenderLookup.Find(flow, SenderDetails.Uid);
        Assert.NotNull(uidOnly);
        Assert.Equal(OwnUid, uidOnly.Uid);
        Assert.Equal(-1, uidOnly.ProcessId);
        Assert.Empty(uidOnly.Cgroups);

        FlowSender? full = FlowSenderLookup.Find(flow, SenderDetails.Uid | SenderDetails.Cgroup);
        output.WriteLine($"lookup, median of 20 ({Directory.GetDirectories("/proc").Length} entries in /proc): uid {Median(flow, SenderDetails.Uid):0.###} ms, " +
            $"uid and cgroup {Median(flow, SenderDetails.Uid | SenderDetails.Cgroup):0.###} ms");
        Assert.NotNull(full);
        Assert.Equal(Environment.ProcessId, full.ProcessId);
        string v2 = File.ReadLines("/proc/self/cgroup").Single(l => l.StartsWith("0::", StringComparison.Ordinal))[3..];
        Assert.Equal(v2, full.Cgroups[0]);
        Assert.True(full.InCgroup(v2));

        // Another source port, another address, another protocol: nobody.
        Assert.Null(FlowSenderLookup.Find(new FlowKey(IpProtocols.Udp, NetAddress.Parse("127.0.0.1"), (ushort)(port ^ 1), NetAddress.Parse("10.201.0.2"), 9000), SenderDetails.Uid));
        Assert.Null(FlowSenderLookup.Find(new FlowKey(IpProtocols.Udp, NetAddress.Parse("127.0.0.2"), port, NetAddress.Parse("10.201.0.2"), 9000), SenderDetails.Uid));
        Assert.Null(FlowSenderLookup.Find(new FlowKey(IpProtocols.Icmp, NetAddress.Parse("127.0.0.1"), port, NetAddress.Parse("10.201.0.2"), 9000), SenderDetails.Uid));
    }

    [Fact]
    public void A_dual_stack_socket_is_found_for_an_ipv4_flow_and_a_tcp_connection_by_its_peer()
    {
        using var dual = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
        dual.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        ushort port = (ushort)((IPEndPoint)dual.LocalEndPoint!).Port;
        Assert.Equal(Environment.ProcessId, FlowSenderLookup.Find(
            new FlowKey(IpProtocols.Udp, NetAddress.Parse("10.200.0.1"), port, NetAddress.Parse("10.201.0.2"), 9000), SenderDetails.Cgroup)?.ProcessId);

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        client.Connect((IPEndPoint)listener.LocalEndpoint);
        var local = (IPEndPoint)client.Client.LocalEndPoint!;
        var peer = (IPEndPoint)listener.LocalEndpoint;
        var tcp = new FlowKey(IpProtocols.Tcp, NetAddress.FromIPAddress(local.Address), (ushort)local.Port, NetAddress.FromIPAddress(peer.Address), (ushort)peer.Port);
        Assert.Equal(OwnUid, FlowSenderLookup.Find(tcp, SenderDetails.Uid)?.Uid);
        // The same source port toward another peer is another connection, which does not exist.
        var other = new FlowKey(IpProtocols.Tcp, NetAddress.FromIPAddress(local.Address), (ushort)local.Port, NetAddress.FromIPAddress(peer.Address), (ushort)(peer.Port ^ 1));
        Assert.Null(FlowSenderLookup.Find(other, SenderDetails.Uid));
    }

    private static double Median(FlowKey flow, SenderDetails details)
    {
        var times = new double[20];
        for (int i = 0; i < times.Length; i++)
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            FlowSenderLookup.Find(flow, details);
            times[i] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(times);
        return times[times.Length / 2];
    }

    [Theory]
    [InlineData("0100007F:0035", "127.0.0.1", 53)]
    [InlineData("0100C80A:A410", "10.200.0.1", 42000)]
    [InlineData("00000000000000000000000000000000:1F90", "::", 8080)]
    [InlineData("0000000000000000FFFF00000100C80A:0007", "10.200.0.1", 7)]
    [InlineData("0000FDFD000000000000000001000000:0007", "fdfd::1", 7)]
    public void Socket_table_endpoints_parse_as_the_kernel_prints_them(string text, string address, int port)
    {
        Assert.True(FlowSenderLookup.TryEndpoint(text, out NetAddress parsed, out int parsedPort));
        Assert.Equal(NetAddress.Parse(address), parsed);
        Assert.Equal(port, parsedPort);
    }
}
