using System.Globalization;
using System.Net;
using System.Net.Sockets;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Host.Packets;

namespace VirtualStack.Host.Tests.Packets;

/// <summary>
/// The kernel as an outside oracle for <see cref="ReplyPacketBuilder"/>: a built packet goes out through a raw
/// IPPROTO_RAW socket (the packet is sent as written, header included) to loopback, and an ordinary kernel UDP
/// socket must receive exactly the payload. The kernel verifies IP header and UDP checksums of such packets and
/// silently drops bad ones, so each test first sends a deliberately corrupted copy and checks that it is the one
/// that does not arrive and is counted as a checksum error.
/// </summary>
public class ReplyPacketKernelOracleTests
{
    private const string RootReason = "needs root (CAP_NET_RAW) to open a raw IPPROTO_RAW socket";

    [SkippableFact]
    public void Kernel_accepts_an_ipv4_udp_reply()
    {
        Skip.IfNot(Environment.IsPrivilegedProcess, RootReason);
        RoundTrip(AddressFamily.InterNetwork, IPAddress.Loopback);
    }

    [SkippableFact]
    public void Kernel_accepts_an_ipv6_udp_reply()
    {
        Skip.IfNot(Environment.IsPrivilegedProcess, RootReason);
        Skip.IfNot(Socket.OSSupportsIPv6, "IPv6 is not available on this machine");
        RoundTrip(AddressFamily.InterNetworkV6, IPAddress.IPv6Loopback);
    }

    private static void RoundTrip(AddressFamily family, IPAddress loopback)
    {
        using var receiver = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            receiver.Bind(new IPEndPoint(loopback, 0));
        }
        catch (SocketException e) when (family == AddressFamily.InterNetworkV6)
        {
            Skip.If(true, $"cannot bind UDP to [::1] ({e.SocketErrorCode}): IPv6 loopback is not configured");
        }

        ushort appPort = (ushort)((IPEndPoint)receiver.LocalEndPoint!).Port;
        using Socket raw = OpenRaw(family);

        // The application at loopback:appPort had addressed loopback:40999; the reply must appear to come from there.
        const ushort AddressedPort = 40999;
        NetAddress address = NetAddress.FromIPAddress(loopback);
        var flow = new FlowKey(IpProtocols.Udp, address, appPort, address, AddressedPort);

        byte[] badPayload = HandPackets.Payload(64, seed: 3);
        byte[] goodPayload = HandPackets.Payload(1000, seed: 5);
        byte[] bad = new byte[2048];
        byte[] good = new byte[2048];
        int badLength = ReplyPacketBuilder.BuildUdp(flow, badPayload, bad);
        int goodLength = ReplyPacketBuilder.BuildUdp(flow, goodPayload, good);
        Assert.True(badLength > 0 && goodLength > 0);

        // Corrupt one payload byte after the checksum was computed: only the UDP checksum can tell.
        bad[badLength - 1] ^= 0x5a;

        long csumErrorsBefore = UdpChecksumErrors(family);
        var target = new IPEndPoint(loopback, 0);
        Assert.Equal(badLength, raw.SendTo(bad.AsSpan(0, badLength), SocketFlags.None, target));
        Assert.Equal(goodLength, raw.SendTo(good.AsSpan(0, goodLength), SocketFlags.None, target));

        byte[] received = new byte[4096];
        EndPoint from = new IPEndPoint(family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        receiver.ReceiveTimeout = 5000;
        int n = receiver.ReceiveFrom(received, ref from);

        Assert.Equal(goodPayload, received[..n]);
        Assert.Equal(new IPEndPoint(loopback, AddressedPort), from);
        Assert.False(receiver.Poll(200_000, SelectMode.SelectRead), "the corrupted datagram must not be delivered");
        Assert.True(UdpChecksumErrors(family) > csumErrorsBefore, "the kernel should have counted the corrupted datagram as a checksum error");
    }

    private static Socket OpenRaw(AddressFamily family)
    {
        try
        {
            // IPPROTO_RAW implies IP_HDRINCL (and IPV6_HDRINCL since Linux 4.5): the packet goes out as built.
            return new Socket(family, SocketType.Raw, ProtocolType.Raw);
        }
        catch (SocketException e)
        {
            Skip.If(true, $"cannot open a raw {family} socket ({e.SocketErrorCode})");
            throw;
        }
    }

    /// <summary>The kernel's UDP InCsumErrors counter (/proc/net/snmp, or Udp6InCsumErrors in /proc/net/snmp6).</summary>
    private static long UdpChecksumErrors(AddressFamily family)
    {
        if (family == AddressFamily.InterNetworkV6)
        {
            foreach (string line in File.ReadLines("/proc/net/snmp6"))
            {
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 2 && parts[0] == "Udp6InCsumErrors")
                {
                    return long.Parse(parts[1], CultureInfo.InvariantCulture);
                }
            }

            throw new InvalidOperationException("Udp6InCsumErrors not found in /proc/net/snmp6");
        }

        string[]? names = null;
        foreach (string line in File.ReadLines("/proc/net/snmp"))
        {
            if (!line.StartsWith("Udp: ", StringComparison.Ordinal))
            {
                continue;
            }

            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (names is null)
            {
                names = fields;
                continue;
            }

            return long.Parse(fields[Array.IndexOf(names, "InCsumErrors")], CultureInfo.InvariantCulture);
        }

        throw new InvalidOperationException("Udp InCsumErrors not found in /proc/net/snmp");
    }
}
