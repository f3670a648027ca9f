namespace VirtualStack.Host.Tests.Packets;

/// <summary>
/// Packets written field by field for the tests, independent of the code under test (including its checksum):
/// every byte is placed here explicitly so that a shared misunderstanding cannot make both sides agree.
/// </summary>
internal static class HandPackets
{
    public static readonly byte[] V4Source = [10, 200, 0, 1];
    public static readonly byte[] V4Destination = [10, 201, 0, 2];

    public static readonly byte[] V6Source = [0xfd, 0x00, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01];
    public static readonly byte[] V6Destination = [0xfd, 0x00, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02];

    /// <summary>An IPv4 packet. Fragment holds the flags and offset word (DF = 0x4000, MF = 0x2000, offset in 8-byte units).</summary>
    public static byte[] V4(
        byte protocol,
        byte[] transport,
        byte[]? options = null,
        byte tos = 0,
        ushort fragment = 0x4000,
        int? totalLength = null,
        int trailing = 0,
        bool corruptChecksum = false,
        int? ihlWords = null)
    {
        options ??= [];
        int headerLength = 20 + options.Length;
        int ihl = ihlWords ?? (headerLength / 4);
        int total = totalLength ?? (headerLength + transport.Length);
        var bytes = new List<byte>
        {
            (byte)(0x40 | (ihl & 0x0f)),
            tos,
            (byte)(total >> 8), (byte)total,
            0x1c, 0x46,                            // identification
            (byte)(fragment >> 8), (byte)fragment,
            64,                                    // TTL
            protocol,
            0, 0,                                  // checksum, filled below
        };
        bytes.AddRange(V4Source);
        bytes.AddRange(V4Destination);
        bytes.AddRange(options);
        ushort checksum = Checksum(bytes.ToArray());
        if (corruptChecksum)
        {
            checksum ^= 0x0101;
        }

        bytes[10] = (byte)(checksum >> 8);
        bytes[11] = (byte)checksum;
        bytes.AddRange(transport);
        bytes.AddRange(new byte[trailing]);
        return bytes.ToArray();
    }

    /// <summary>An IPv6 packet; <paramref name="rest"/> is everything after the fixed header (extension headers and transport).</summary>
    public static byte[] V6(byte nextHeader, byte[] rest, byte trafficClass = 0, int flowLabel = 0x12345, int? payloadLength = null, int trailing = 0)
    {
        int length = payloadLength ?? rest.Length;
        var bytes = new List<byte>
        {
            (byte)(0x60 | (trafficClass >> 4)),
            (byte)((trafficClass << 4) | ((flowLabel >> 16) & 0x0f)),
            (byte)(flowLabel >> 8), (byte)flowLabel,
            (byte)(length >> 8), (byte)length,
            nextHeader,
            64,                                    // hop limit
        };
        bytes.AddRange(V6Source);
        bytes.AddRange(V6Destination);
        bytes.AddRange(rest);
        bytes.AddRange(new byte[trailing]);
        return bytes.ToArray();
    }

    /// <summary>A Hop-by-Hop, Routing or Destination Options header of (lengthUnits + 1) * 8 bytes.</summary>
    public static byte[] Extension(byte next, byte lengthUnits = 0)
    {
        var bytes = new byte[(lengthUnits + 1) * 8];
        bytes[0] = next;
        bytes[1] = lengthUnits;
        bytes[2] = 1;                              // PadN option covering the rest
        bytes[3] = (byte)(bytes.Length - 4);
        return bytes;
    }

    /// <summary>An IPv6 Fragment header: offset in 8-byte units, M flag.</summary>
    public static byte[] FragmentHeader(byte next, int offsetUnits, bool more) =>
    [
        next, 0,
        (byte)(offsetUnits >> 5), (byte)(((offsetUnits << 3) & 0xf8) | (more ? 1 : 0)),
        0xde, 0xad, 0xbe, 0xef,                    // identification
    ];

    /// <summary>An Authentication Header with a 12-byte ICV: (4 + 2) * 4 = 24 bytes.</summary>
    public static byte[] AuthenticationHeader(byte next) =>
    [
        next, 4, 0, 0,
        0, 0, 0x10, 0x01,                          // SPI
        0, 0, 0, 0x07,                             // sequence
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,     // ICV
    ];

    public static byte[] Udp(ushort sourcePort, ushort destinationPort, byte[] payload, int? length = null, ushort checksum = 0xbeef)
    {
        int udpLength = length ?? (8 + payload.Length);
        return
        [
            (byte)(sourcePort >> 8), (byte)sourcePort,
            (byte)(destinationPort >> 8), (byte)destinationPort,
            (byte)(udpLength >> 8), (byte)udpLength,
            (byte)(checksum >> 8), (byte)checksum,
            .. payload,
        ];
    }

    /// <summary>A TCP segment: flags byte as on the wire (FIN 1, SYN 2, RST 4, PSH 8, ACK 16).</summary>
    public static byte[] Tcp(ushort sourcePort, ushort destinationPort, byte flags, byte[] payload, int optionBytes = 0, int? dataOffsetWords = null)
    {
        int doff = dataOffsetWords ?? ((20 + optionBytes) / 4);
        var bytes = new List<byte>
        {
            (byte)(sourcePort >> 8), (byte)sourcePort,
            (byte)(destinationPort >> 8), (byte)destinationPort,
            0, 0, 0x10, 0x00,                      // sequence
            0, 0, 0, 0,                            // acknowledgement
            (byte)(doff << 4),
            flags,
            0xff, 0xff,                            // window
            0x12, 0x34,                            // checksum (not checked by the classifier)
            0, 0,                                  // urgent
        };
        for (int i = 0; i < optionBytes; i++)
        {
            bytes.Add(1);                          // NOP
        }

        bytes.AddRange(payload);
        return bytes.ToArray();
    }

    public static byte[] Icmp(byte type, byte code, ushort identifier, ushort sequence, byte[] payload) =>
    [
        type, code,
        0x55, 0xaa,                                // checksum (not checked by the classifier)
        (byte)(identifier >> 8), (byte)identifier,
        (byte)(sequence >> 8), (byte)sequence,
        .. payload,
    ];

    /// <summary>A DCCP packet: extended (X=1) generic header of 16 bytes, or the short 12-byte one.</summary>
    public static byte[] Dccp(ushort sourcePort, ushort destinationPort, byte type, bool extended, int extraHeaderBytes, byte[] payload, int? dataOffsetWords = null)
    {
        int headerLength = (extended ? 16 : 12) + extraHeaderBytes;
        int doff = dataOffsetWords ?? (headerLength / 4);
        var bytes = new List<byte>
        {
            (byte)(sourcePort >> 8), (byte)sourcePort,
            (byte)(destinationPort >> 8), (byte)destinationPort,
            (byte)doff,
            0,                                     // CCVal, CsCov
            0x77, 0x77,                            // checksum
            (byte)((type << 1) | (extended ? 1 : 0)),
        };
        if (extended)
        {
            bytes.AddRange(new byte[] { 0, 0, 0, 0, 0, 0, 1 });      // reserved + 48-bit sequence
        }
        else
        {
            bytes.AddRange(new byte[] { 0, 0, 1 });                  // 24-bit sequence
        }

        bytes.AddRange(new byte[extraHeaderBytes]);
        bytes.AddRange(payload);
        return bytes.ToArray();
    }

    /// <summary>RFC 1071 checksum, written the slow obvious way: 16-bit big-endian words, end-around carry.</summary>
    public static ushort Checksum(ReadOnlySpan<byte> data)
    {
        long sum = 0;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += (data[i] << 8) | data[i + 1];
        }

        if (i < data.Length)
        {
            sum += data[i] << 8;
        }

        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    /// <summary>Checksum of a transport segment over its RFC 768 / RFC 8200 pseudo-header (source, destination as bytes).</summary>
    public static ushort TransportChecksum(byte[] source, byte[] destination, byte protocol, ReadOnlySpan<byte> segment)
    {
        var pseudo = new List<byte>();
        pseudo.AddRange(source);
        pseudo.AddRange(destination);
        if (source.Length == 4)
        {
            pseudo.Add(0);
            pseudo.Add(protocol);
            pseudo.Add((byte)(segment.Length >> 8));
            pseudo.Add((byte)segment.Length);
        }
        else
        {
            pseudo.Add((byte)(segment.Length >> 24));
            pseudo.Add((byte)(segment.Length >> 16));
            pseudo.Add((byte)(segment.Length >> 8));
            pseudo.Add((byte)segment.Length);
            pseudo.Add(0);
            pseudo.Add(0);
            pseudo.Add(0);
            pseudo.Add(protocol);
        }

        pseudo.AddRange(segment.ToArray());
        return Checksum(pseudo.ToArray());
    }

    public static byte[] Payload(int length, int seed = 1)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)((i * 7) + seed);
        }

        return bytes;
    }
}
