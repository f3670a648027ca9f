using VirtualStack.Contracts.Net;
using VirtualStack.Dccp.Tests.Support;
using VirtualStack.Plugins.Dccp.Protocol;

namespace VirtualStack.Dccp.Tests.Wire;

/// <summary>
/// Wireshark's DCCP dissector as an outside oracle: every packet our encoder builds (all types, X=1 and X=0, every
/// option, partial checksum coverage, IPv4 and IPv6) is written to a pcap and decoded by tshark, which must find
/// each one a DCCP packet of the right type and sequence number, with checksum status Good and nothing malformed.
/// </summary>
public class TsharkOracleTests
{
    [SkippableFact]
    public void Tshark_decodes_every_encoded_packet_with_a_good_checksum()
    {
        string? tshark = ExternalTools.Find("tshark");
        Skip.If(tshark is null, "tshark is not installed (DEBIAN_FRONTEND=noninteractive apt-get install -y tshark); CI installs it");

        string dir = Directory.CreateTempSubdirectory("vs-dccp-tshark-").FullName;
        try
        {
            string pcap = Path.Combine(dir, "encoded.pcap");
            var expected = new List<(DccpPacketType Type, ulong Seq)>();
            using (var writer = new PcapWriter(pcap))
            {
                foreach ((NetAddress src, NetAddress dst) in new[]
                {
                    (NetAddress.Parse("10.254.0.1"), NetAddress.Parse("10.254.0.2")),
                    (NetAddress.Parse("fd00:254::1"), NetAddress.Parse("fd00:254::2")),
                })
                {
                    var random = new Random(33);
                    for (int t = 0; t <= 9; t++)
                    {
                        var type = (DccpPacketType)t;
                        foreach (bool shortSeq in new[] { false, true })
                        {
                            if (shortSeq && !DccpPacketTypes.AllowsShortSequence(type))
                            {
                                continue;
                            }

                            foreach (int variant in new[] { 0, 1, 2 })
                            {
                                ulong seq = shortSeq ? (ulong)random.Next(0, 1 << 24) : (ulong)random.NextInt64(1L << 48);
                                byte[] packet = Build(random, type, shortSeq, seq, variant, src, dst);
                                writer.WriteDccp(src, dst, packet);
                                expected.Add((type, seq));
                            }
                        }
                    }
                }
            }

            (int code, string output, string error) = ExternalTools.Run(tshark!,
            [
                "-r", pcap, "-o", "dccp.relative_sequence_numbers:FALSE", "-o", "dccp.check_checksum:TRUE",
                "-T", "fields", "-E", "separator=|", "-e", "frame.number", "-e", "dccp.type", "-e", "dccp.seq_raw", "-e", "dccp.seq",
                "-e", "dccp.checksum.status", "-e", "_ws.malformed", "-e", "_ws.expert.severity",
            ], TimeSpan.FromSeconds(60));
            Assert.True(code == 0, $"tshark exit {code}: {error}");
            string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(expected.Count, lines.Length);
            for (int i = 0; i < lines.Length; i++)
            {
                string[] f = lines[i].Split('|');
                string where = $"frame {i + 1} ({expected[i].Type}): {lines[i]}";
                Assert.True(f[1] == ((int)expected[i].Type).ToString(System.Globalization.CultureInfo.InvariantCulture), where);
                // tshark shows 24-bit sequence numbers (X=0) only as dccp.seq, 48-bit ones as dccp.seq_raw too.
                string seq = f[2].Length > 0 ? f[2] : f[3];
                Assert.True(seq == expected[i].Seq.ToString(System.Globalization.CultureInfo.InvariantCulture), where);
                Assert.True(f[4] == "1", "checksum not Good: " + where); // 1 = Good
                Assert.True(f[5].Length == 0, "malformed: " + where);
            }

            // The same criterion as the lab's selftest: nothing malformed, no expert info at Error level, no bad checksum.
            (code, output, error) = ExternalTools.Run(tshark!,
            [
                "-r", pcap, "-o", "dccp.check_checksum:TRUE",
                "-Y", "_ws.malformed || _ws.expert.severity >= \"Error\" || dccp.checksum.status != 1",
            ], TimeSpan.FromSeconds(60));
            Assert.True(code == 0, error);
            Assert.True(output.Trim().Length == 0, "tshark flagged:\n" + output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static byte[] Build(Random random, DccpPacketType type, bool shortSeq, ulong seq, int variant, NetAddress src, NetAddress dst)
    {
        byte[] buffer = new byte[1500];
        var w = new DccpPacketWriter(buffer);
        var h = new DccpHeader
        {
            SourcePort = (ushort)random.Next(1024, 65535), DestinationPort = 5001, Type = type, Short = shortSeq,
            SequenceNumber = seq, AcknowledgementNumber = shortSeq ? (ulong)random.Next(0, 1 << 24) : (ulong)random.NextInt64(1L << 48),
            ServiceCode = (uint)random.Next(), ResetCode = (DccpResetCode)random.Next(0, 12), CCVal = (byte)random.Next(0, 16),
            CsCov = variant == 2 && DccpPacketTypes.CarriesApplicationData(type) ? (byte)3 : (byte)0,
        };
        Assert.True(w.WriteHeader(h));
        byte[] payload = [];
        if (variant >= 1)
        {
            // Every option the RFCs define, on the packet types whose table column allows it (§5.8).
            bool onData = type == DccpPacketType.Data;
            w.TryAddOption(DccpOptionType.SlowReceiver);
            if (!onData)
            {
                w.TryAddFeature(DccpOptionType.ChangeL, (byte)DccpFeature.Ccid, [2, 3], mandatory: true);
                w.TryAddFeature(DccpOptionType.ChangeR, (byte)DccpFeature.SendAckVector, [1]);
                w.TryAddFeature(DccpOptionType.ConfirmL, (byte)DccpFeature.AckRatio, [0, 2]);
                w.TryAddFeature(DccpOptionType.ConfirmR, (byte)DccpFeature.SequenceWindow, [0, 0, 0, 0, 0, 100]);
                if (type == DccpPacketType.Response)
                {
                    w.TryAddInitCookie([1, 2, 3, 4, 5, 6]);
                }

                Span<byte> runs = stackalloc byte[8];
                int n = AckVector.EncodeRun(runs, AckVectorState.Received, 70);
                n += AckVector.EncodeRun(runs[n..], AckVectorState.NotReceived, 2);
                w.TryAddAckVector(runs[..n], nonce1: variant == 2);
                w.TryAddOption(DccpOptionType.DataDropped, [0x00, 0x81]);
                w.TryAddElapsedTime((uint)random.Next(0, 100_000));
            }

            w.TryAddNdpCount((ulong)random.Next(0, 70000));
            w.TryAddTimestamp((uint)random.Next());
            w.TryAddTimestampEcho((uint)random.Next(), variant == 1 ? 0u : 123u);
            if (DccpPacketTypes.CarriesApplicationData(type))
            {
                payload = new byte[random.Next(1, 1200)];
                random.NextBytes(payload);
                w.TryAddDataChecksum(payload);
            }
        }
        else if (DccpPacketTypes.CarriesApplicationData(type))
        {
            payload = "hello from VirtualStack"u8.ToArray();
        }

        int length = w.Finish(payload, src, dst);
        Assert.True(length > 0);
        return buffer.AsSpan(0, length).ToArray();
    }
}
