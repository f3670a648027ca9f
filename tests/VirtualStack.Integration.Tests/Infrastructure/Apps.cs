using System.Net;
using System.Text.RegularExpressions;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// The "unchanged applications" of the tests: ordinary programs from Debian packages (socat, ping) that know
/// nothing of VS. Servers run in the server namespace, clients in the edge namespace.
/// </summary>
internal static partial class Apps
{
    /// <summary>A UDP echo server (socat, one child per datagram) bound to <paramref name="address"/>:<paramref name="port"/>;
    /// returns once the port is bound.</summary>
    public static async Task<NsProcess> UdpEchoServerAsync(NetnsTopology topology, IPAddress address, int port)
    {
        var family = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "UDP6" : "UDP4";
        var server = topology.Start(topology.Server, "socat", "-d", "-d", $"{family}-RECVFROM:{port},fork,bind={Host(address)}", "PIPE");
        await topology.WaitForListenerAsync(topology.Server, "udp", port);
        return server;
    }

    /// <summary>A TCP echo server (socat, one child per connection).</summary>
    public static async Task<NsProcess> TcpEchoServerAsync(NetnsTopology topology, IPAddress address, int port)
    {
        var family = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "TCP6" : "TCP4";
        var server = topology.Start(topology.Server, "socat", "-d", "-d", $"{family}-LISTEN:{port},bind={Host(address)},reuseaddr,fork", "PIPE");
        await topology.WaitForListenerAsync(topology.Server, "tcp", port);
        return server;
    }

    /// <summary>
    /// One UDP request from an unconnected socat socket in the edge namespace; socat prints what came back on
    /// stdout and, with -d -d, the address each datagram came from ("received packet with N bytes from AF=2
    /// A:P") on stderr. Waits <paramref name="linger"/> seconds for replies after sending.
    /// </summary>
    public static Task<CmdResult> UdpRequestAsync(NetnsTopology topology, IPEndPoint to, string message, int linger = 3)
    {
        var family = to.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "UDP6" : "UDP4";
        return Cmd.RunAsync(
            "ip", ["netns", "exec", topology.Edge, "socat", "-d", "-d", "-t", $"{linger}", "-", $"{family}-SENDTO:{Host(to.Address)}:{to.Port}"],
            TimeSpan.FromSeconds(linger + 20), stdin: message + "\n");
    }

    /// <summary>A TCP conversation: connects from the edge, sends <paramref name="data"/>, half-closes, and returns
    /// what the server sent back until it closed.</summary>
    public static Task<CmdResult> TcpExchangeAsync(NetnsTopology topology, IPEndPoint to, string data)
    {
        var family = to.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "TCP6" : "TCP4";
        return Cmd.RunAsync(
            "ip", ["netns", "exec", topology.Edge, "socat", "-t", "5", "-T", "20", "-", $"{family}:{Host(to.Address)}:{to.Port}"],
            TimeSpan.FromSeconds(40), stdin: data);
    }

    /// <summary>ping (iputils) from <paramref name="ns"/>: <paramref name="count"/> echo requests, 0.2 s apart.</summary>
    public static Task<CmdResult> PingAsync(NetnsTopology topology, string ns, IPAddress to, int count = 5) =>
        Cmd.RunAsync(
            "ip", ["netns", "exec", ns, "ping", "-n", "-c", $"{count}", "-i", "0.2", "-W", "3", to.ToString()],
            TimeSpan.FromSeconds(count + 20));

    /// <summary>Fails unless every echo request of a ping run got its reply.</summary>
    public static void AssertAllReplies(CmdResult ping, int count)
    {
        Assert.True(ping.Ok && ping.StdOut.Contains($"{count} packets transmitted, {count} received", StringComparison.Ordinal),
            $"expected {count} of {count} ping replies: {ping}");
    }

    /// <summary>socat's address syntax: IPv6 in brackets.</summary>
    public static string Host(IPAddress address) =>
        address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();

    /// <summary>
    /// The addresses the datagrams a socat -d -d UDP client received came from, as it logged them
    /// ("received packet with N bytes from AF=2 A:P"; IPv6 in full, bracketed).
    /// </summary>
    public static IReadOnlyList<IPEndPoint> SocatPeers(string stderr) =>
        [.. PeerLine().Matches(stderr).Select(m => IPEndPoint.Parse(m.Groups[1].Value))];

    [GeneratedRegex(@"received packet with \d+ bytes from AF=\d+ (\S+)")]
    private static partial Regex PeerLine();
}
