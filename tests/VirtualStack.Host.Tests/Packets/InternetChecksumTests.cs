using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;

namespace VirtualStack.Host.Tests.Packets;

/// <summary>The contracts' checksum, which the builder relies on, against published vectors and a naive implementation.</summary>
public class InternetChecksumTests
{
    [Fact]
    public void Rfc1071_example()
    {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to 0x2ddf0, folded 0xddf2; the checksum is its complement.
        byte[] data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        uint partial = InternetChecksum.Add(0, data);
        while ((partial >> 16) != 0)
        {
            partial = (partial & 0xffff) + (partial >> 16);
        }

        Assert.Equal(0xddf2u, partial);
        Assert.Equal(0x220d, InternetChecksum.Compute(data));
    }

    [Fact]
    public void Known_ipv4_header()
    {
        // A captured header (192.168.0.1 -> 192.168.0.199, UDP, total length 115) whose checksum field is 0xb861.
        byte[] header =
        [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
            0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        Assert.Equal(0xb861, InternetChecksum.Compute(header));
        header[10] = 0xb8;
        header[11] = 0x61;
        Assert.Equal(0, InternetChecksum.Compute(header));
    }

    [Fact]
    public void Odd_length_pads_the_last_byte_on_the_right()
    {
        Assert.Equal(0xfeff, InternetChecksum.Compute([0x01]));
        Assert.Equal(0xffff, InternetChecksum.Compute([]));
        Assert.Equal(HandPackets.Checksum([0x12, 0x34, 0x56]), InternetChecksum.Compute([0x12, 0x34, 0x56]));
    }

    [Fact]
    public void Matches_the_naive_implementation_on_random_data()
    {
        var random = new Random(1071);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] data = new byte[random.Next(0, i < 100 ? 70_000 : 300)];
            random.NextBytes(data);
            if (i % 7 == 0)
            {
                // Long runs of 0xff stress the carries.
                data.AsSpan().Fill(0xff);
            }

            Assert.Equal(HandPackets.Checksum(data), InternetChecksum.Compute(data));

            // Adding in pieces split at even offsets gives the same result as one pass.
            int split = random.Next(0, data.Length / 2 + 1) * 2;
            uint partial = InternetChecksum.Add(InternetChecksum.Add(0, data.AsSpan(0, split)), data.AsSpan(split));
            Assert.Equal(HandPackets.Checksum(data), InternetChecksum.Finish(partial));
        }
    }

    [Theory]
    [InlineData("10.200.0.1", "10.201.0.2")]
    [InlineData("fd00:200::1", "fd00:201::2")]
    public void Pseudo_header_matches_the_naive_implementation(string source, string destination)
    {
        NetAddress s = NetAddress.Parse(source);
        NetAddress d = NetAddress.Parse(destination);
        byte[] segment = HandPackets.Udp(40000, 7, HandPackets.Payload(77), checksum: 0);
        uint partial = InternetChecksum.AddPseudoHeader(0, s, d, IpProtocols.Udp, segment.Length);
        ushort actual = InternetChecksum.Finish(InternetChecksum.Add(partial, segment));
        ushort expected = HandPackets.TransportChecksum(
            s.ToIPAddress().GetAddressBytes(), d.ToIPAddress().GetAddressBytes(), IpProtocols.Udp, segment);
        Assert.Equal(expected, actual);
    }
}
