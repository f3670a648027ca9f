using System.Globalization;
using VirtualStack.Contracts.Net;
using VirtualStack.Dccp.Tests.Support;
using VirtualStack.Plugins.Dccp.Endpoint;
using VirtualStack.Plugins.Dccp.Transport;
using Xunit.Abstractions;

namespace VirtualStack.Dccp.Tests.Wire;

/// <summary>
/// DCCP-UDP (RFC 6773) on the wire, checked by Wireshark's DCCP dissector as the oracle: a real connection over
/// loopback is captured, and every UDP datagram between the two encapsulation ports must decode as one whole DCCP
/// packet (generic header with its own DCCP ports, which differ from the UDP ports, §3.1-3.2), with the DCCP
/// checksum sent as zero (§3.3), and nothing malformed.
/// </summary>
public class DccpUdpTsharkTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task Every_datagram_is_a_whole_dccp_packet_with_its_own_ports_and_a_zero_dccp_checksum()
    {
        Skip.IfNot(Environment.IsPrivilegedProcess, "capturing on lo needs root");
        string? tshark = ExternalTools.Find("tshark");
        Skip.If(tshark is null, "tshark is not installed");
        var loopback = NetAddress.Parse("127.0.0.1");
        using var serverTransport = new UdpEncapsulationTransport(loopback);
        ushort udpPort = serverTransport.UdpPort;
        ushort dccpPort = (ushort)(udpPort == 4000 ? 4001 : 4000); // a DCCP port unlike the UDP port

        string dir = Directory.CreateTempSubdirectory("vs-dccp-udp-capture-").FullName;
        string pcap = Path.Combine(dir, "dccp-udp.pcap");
        var capture = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(tshark!)
        {
            ArgumentList = { "-i", "lo", "-B", "64", "-f", $"udp port {udpPort}", "-w", pcap },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        try
        {
            var started = new TaskCompletionSource();
            capture.ErrorDataReceived += (_, e) =>
            {
                if (e.Data?.Contains("Capturing on", StringComparison.Ordinal) == true)
                {
                    started.TrySetResult();
                }
            };
            capture.BeginErrorReadLine();
            await started.Task.WaitAsync(TimeSpan.FromSeconds(20));
            await Task.Delay(500); // "Capturing on" comes a little before the filter is live

            using (var server = new DccpEndpoint(serverTransport, ownsTransport: false))
            using (var client = new DccpEndpoint(new UdpEncapsulationTransport(loopback, defaultRemotePort: udpPort)))
            {
                using DccpListener listener = server.Listen(dccpPort);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                Task<DccpConnection> accepting = listener.AcceptAsync(timeout.Token);
                await using DccpConnection c = await client.ConnectAsync(new NetEndpoint(loopback, dccpPort), 0, timeout.Token);
                await using DccpConnection s = await accepting;
                for (int i = 0; i < 200; i++)
                {
                    await c.SendAsync(new byte[1 + (i * 13 % 1200)], timeout.Token);
                }

                byte[] buffer = new byte[2048];
                for (int i = 0; i < 200; i++)
                {
                    await s.ReceiveAsync(buffer, timeout.Token);
                }

                await s.SendAsync("reply"u8.ToArray(), timeout.Token);
                await c.ReceiveAsync(buffer, timeout.Token);
                await c.CloseAsync(timeout.Token);
            }

            await Task.Delay(500);
            ExternalTools.Run("kill", ["-INT", capture.Id.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(5));
            Assert.True(capture.WaitForExit(10_000));

            // Wireshark has no DCCP-UDP dissector ("Decode As" does not offer dccp for UDP ports): take each captured
            // UDP payload and put it straight into an IP packet of protocol 33. By RFC 6773 the payload is exactly a
            // DCCP packet, so native DCCP decoding must accept every one (its checksum field is zero: not checked).
            (int code, string udp, string err) = ExternalTools.Run(tshark!,
                ["-r", pcap, "-Y", "udp", "-T", "fields", "-E", "separator=,", "-e", "ip.src", "-e", "ip.dst", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.checksum", "-e", "udp.payload"],
                TimeSpan.FromSeconds(60));
            Assert.True(code == 0, err);
            string native = Path.Combine(dir, "as-native.pcap");
            var udpPorts = new List<(string Source, string Destination, string Checksum)>();
            using (var writer = new PcapWriter(native))
            {
                foreach (string line in udp.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    string[] f = line.Split(',');
                    udpPorts.Add((f[2], f[3], f[4]));
                    writer.WriteDccp(NetAddress.Parse(f[0]), NetAddress.Parse(f[1]), Convert.FromHexString(f[5].Replace(":", "", StringComparison.Ordinal)));
                }
            }

            string[] decode = ["-r", native, "-o", "dccp.check_checksum:FALSE"];
            (_, string fields, _) = ExternalTools.Run(tshark!,
                [.. decode, "-Y", "dccp", "-T", "fields", "-E", "separator=,", "-e", "frame.number", "-e", "dccp.srcport", "-e", "dccp.dstport", "-e", "dccp.type", "-e", "dccp.checksum"],
                TimeSpan.FromSeconds(60));
            (_, string bad, _) = ExternalTools.Run(tshark!, [.. decode, "-Y", "_ws.malformed || _ws.expert.severity >= \"Error\""], TimeSpan.FromSeconds(60));

            string[] datagrams = [.. udpPorts.Select(p => p.Source)];
            string[] packets = fields.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            output.WriteLine($"{datagrams.Length} UDP datagrams, {packets.Length} decoded as DCCP; first: {string.Join(" | ", packets.Take(4))}");
            Assert.True(datagrams.Length >= 200, $"only {datagrams.Length} datagrams captured");
            Assert.Equal(datagrams.Length, packets.Length);
            Assert.True(bad.Trim().Length == 0, "tshark flagged:\n" + bad);
            var types = new HashSet<string>();
            foreach (string line in packets)
            {
                string[] f = line.Split(',');
                var (_, udpDestination, udpChecksum) = udpPorts[int.Parse(f[0], CultureInfo.InvariantCulture) - 1];
                Assert.NotEqual("0x0000", udpChecksum); // the UDP checksum does the DCCP checksum's job (§3.3)
                bool toServer = udpDestination == udpPort.ToString(CultureInfo.InvariantCulture);
                string serverDccp = toServer ? f[2] : f[1];
                Assert.Equal(dccpPort.ToString(CultureInfo.InvariantCulture), serverDccp); // the DCCP port travels inside, not as the UDP port
                Assert.True(f[4] is "0x0000" or "0", $"DCCP checksum {f[4]} is not zero: {line}");
                types.Add(f[3]);
            }

            output.WriteLine($"DCCP types seen: {string.Join(", ", types)}");
            Assert.Contains("0", types); // Request
            Assert.Contains("1", types); // Response
        }
        finally
        {
            if (!capture.HasExited)
            {
                capture.Kill();
            }

            Directory.Delete(dir, recursive: true);
        }
    }
}
