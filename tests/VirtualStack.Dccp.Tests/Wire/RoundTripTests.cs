using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Protocol;

namespace VirtualStack.Dccp.Tests.Wire;

public class RoundTripTests
{
    private static readonly NetAddress V4A = NetAddress.Parse("192.0.2.1");
    private static readonly NetAddress V4B = NetAddress.Parse("192.0.2.2");
    private static readonly NetAddress V6A = NetAddress.Parse("2001:db8::1");
    private static readonly NetAddress V6B = NetAddress.Parse("2001:db8::2");

    public static TheoryData<DccpPacketType, bool> AllTypes()
    {
        var data = new TheoryData<DccpPacketType, bool>();
        for (int t = 0; t <= 9; t++)
        {
            data.Add((DccpPacketType)t, false);
            if (DccpPacketTypes.AllowsShortSequence((DccpPacketType)t))
            {
                data.Add((DccpPacketType)t, true);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Every_type_round_trips_over_IPv4_and_IPv6(DccpPacketType type, bool shortSeqno)
    {
        foreach ((NetAddress src, NetAddress dst) in new[] { (V4A, V4B), (V6A, V6B) })
        {
            var h = new DccpHeader
            {
                SourcePort = 1234, DestinationPort = 5678, Type = type, Short = shortSeqno, CCVal = 9,
                SequenceNumber = shortSeqno ? 0xABCDEFUL : 0x8000_0000_0001UL,
                AcknowledgementNumber = shortSeqno ? 0x123456UL : 0x7FFF_FFFF_FFFFUL,
                ServiceCode = 0xDEADBEEF, ResetCode = DccpResetCode.BadServiceCode, ResetData1 = 1, ResetData2 = 2, ResetData3 = 3,
            };
            byte[] payload = DccpPacketTypes.CarriesApplicationData(type) || type is DccpPacketType.Request ? [1, 2, 3, 4, 5] : [];
            byte[] buffer = new byte[256];
            var w = new DccpPacketWriter(buffer);
            Assert.True(w.WriteHeader(h));
            Assert.True(w.TryAddOption(DccpOptionType.SlowReceiver));
            Assert.True(w.TryAddTimestamp(0x01020304));
            int length = w.Finish(payload, src, dst);

            Assert.Equal(DccpParseResult.Ok, DccpPacket.TryParse(buffer.AsSpan(0, length), out DccpPacket p));
            Assert.True(DccpChecksum.Verify(buffer.AsSpan(0, length), src, dst));
            Assert.Equal(type, p.Type);
            Assert.Equal(!shortSeqno, p.IsExtended);
            Assert.Equal(h.SequenceNumber, p.SequenceNumber);
            Assert.Equal(DccpPacketTypes.HasAck(type), p.HasAck);
            if (p.HasAck)
            {
                Assert.Equal(h.AcknowledgementNumber, p.AcknowledgementNumber);
            }

            if (type is DccpPacketType.Request or DccpPacketType.Response)
            {
                Assert.Equal(0xDEADBEEFu, p.ServiceCode);
            }

            if (type == DccpPacketType.Reset)
            {
                Assert.Equal(DccpResetCode.BadServiceCode, p.ResetCode);
                Assert.Equal((1, 2, 3), (p.ResetData1, p.ResetData2, p.ResetData3));
            }

            Assert.Equal(9, p.CCVal);
            Assert.Equal(payload, p.Payload.ToArray());
            Assert.Equal(0, p.HeaderLength % 4);
            Assert.Equal(DccpPacketTypes.FixedHeaderLength(type, !shortSeqno) + 8, p.HeaderLength);

            // A single flipped bit anywhere breaks the checksum.
            buffer[length - 1] ^= 0x10;
            Assert.False(DccpChecksum.Verify(buffer.AsSpan(0, length), src, dst));
        }
    }

    [Fact]
    public void Short_sequence_numbers_are_refused_on_types_that_need_48_bits()
    {
        byte[] buffer = new byte[64];
        var w = new DccpPacketWriter(buffer);
        // The writer never emits X=0 for a Request even if asked.
        Assert.True(w.WriteHeader(new DccpHeader { Type = DccpPacketType.Request, Short = true }));
        int length = w.Finish([], V4A, V4B);
        Assert.Equal(1, buffer[8] & 1);
        Assert.Equal(DccpParseResult.Ok, DccpPacket.TryParse(buffer.AsSpan(0, length), out _));

        buffer[8] &= 0xFE; // force X=0 on a Request
        Assert.Equal(DccpParseResult.ShortSequenceNotAllowed, DccpPacket.TryParse(buffer.AsSpan(0, length), out _));
    }

    [Fact]
    public void Checksum_coverage_protects_only_the_covered_part()
    {
        byte[] buffer = new byte[128];
        var w = new DccpPacketWriter(buffer);
        Assert.True(w.WriteHeader(new DccpHeader { Type = DccpPacketType.Data, SequenceNumber = 5, CsCov = 2 }));
        byte[] payload = new byte[40];
        int length = w.Finish(payload, V6A, V6B);
        Assert.Equal(DccpParseResult.Ok, DccpPacket.TryParse(buffer.AsSpan(0, length), out DccpPacket p));
        Assert.Equal(2, p.CsCov);
        Assert.Equal(16 + 4, DccpChecksum.Coverage(buffer.AsSpan(0, length)));
        buffer[length - 1] ^= 0xFF; // outside the coverage: still valid (§9.2)
        Assert.True(DccpChecksum.Verify(buffer.AsSpan(0, length), V6A, V6B));
        buffer[17] ^= 0xFF; // inside the first covered data word
        Assert.False(DccpChecksum.Verify(buffer.AsSpan(0, length), V6A, V6B));
    }

    [Fact]
    public void Coverage_past_the_end_is_an_error()
    {
        byte[] buffer = new byte[64];
        var w = new DccpPacketWriter(buffer);
        Assert.True(w.WriteHeader(new DccpHeader { Type = DccpPacketType.Data, CsCov = 15 }));
        int length = w.Finish(new byte[4], V4A, V4B);
        Assert.Equal(0, buffer[5] & 0x0F); // the writer clamps a too-large CsCov to 0 (whole packet)
        buffer[5] = 0x0F;
        Assert.Equal(DccpParseResult.BadChecksumCoverage, DccpPacket.TryParse(buffer.AsSpan(0, length), out _));
    }

    [Theory]
    [InlineData("", DccpParseResult.Truncated)]
    [InlineData("0001000204000000", DccpParseResult.Truncated)]
    [InlineData("00010002040000001500000000000001", DccpParseResult.ReservedType)] // type 10
    [InlineData("0001000203000000050000000000000100000000", DccpParseResult.BadDataOffset)] // Data Offset 3 < 4 words
    [InlineData("00010002060000000500000000000001", DccpParseResult.BadDataOffset)] // Data Offset 6 > packet
    [InlineData("00010002050000000500000000000001200a0000", DccpParseResult.MalformedOptions)] // option runs past the area
    [InlineData("00010002050000000500000000000001000020", DccpParseResult.BadDataOffset)]
    [InlineData("000100020500000005000000000000010000002001", DccpParseResult.MalformedOptions)]
    [InlineData("0001000205000000050000000000000100000020", DccpParseResult.MalformedOptions)] // type 32 without a length byte
    [InlineData("0001000205000000050000000000000121010000", DccpParseResult.MalformedOptions)] // length 1
    [InlineData("000100020300000006000001", DccpParseResult.Truncated)] // X=0 Ack without its ack subheader
    public void Hostile_headers_get_a_reason(string hex, DccpParseResult expected)
    {
        Assert.Equal(expected, DccpPacket.TryParse(Convert.FromHexString(hex), out _));
    }

    [Fact]
    public void Option_decoders_read_what_the_encoders_write()
    {
        byte[] buffer = new byte[256];
        var w = new DccpPacketWriter(buffer);
        Assert.True(w.WriteHeader(new DccpHeader { Type = DccpPacketType.DataAck, SequenceNumber = 1, AcknowledgementNumber = 1 }));
        byte[] payload = "payload"u8.ToArray();
        Assert.True(w.TryAddOption(DccpOptionType.Padding));
        Assert.True(w.TryAddOption(DccpOptionType.SlowReceiver));
        Assert.True(w.TryAddFeature(DccpOptionType.ChangeR, (byte)DccpFeature.SequenceWindow, [0, 0, 0, 0, 1, 0], mandatory: true));
        Assert.True(w.TryAddFeature(DccpOptionType.ConfirmL, 200, []));
        Assert.True(w.TryAddInitCookie([9, 8, 7]));
        Assert.True(w.TryAddNdpCount(0x0102_0304_05));
        Assert.True(w.TryAddAckVector([0x3F, 0xC1], nonce1: true));
        Assert.True(w.TryAddOption(DccpOptionType.DataDropped, [0x00, 0x81]));
        Assert.True(w.TryAddTimestamp(0xCAFEBABE));
        Assert.True(w.TryAddTimestampEcho(0x11223344, 70000));
        Assert.True(w.TryAddElapsedTime(300));
        Assert.True(w.TryAddDataChecksum(payload));
        Assert.True(w.TryAddOption(200, [1]));
        int length = w.Finish(payload, V4A, V4B);
        Assert.Equal(DccpParseResult.Ok, DccpPacket.TryParse(buffer.AsSpan(0, length), out DccpPacket p));

        int count = 0;
        foreach (DccpOption o in p.EnumerateOptions())
        {
            Assert.True(o.HasValidLength, DccpOptionTypes.Name(o.Type));
            switch ((DccpOptionType)o.Type)
            {
                case DccpOptionType.ChangeR:
                    Assert.True(DccpOptionValues.TryReadFeature(o.Data, out byte f, out ReadOnlySpan<byte> v));
                    Assert.Equal((byte)DccpFeature.SequenceWindow, f);
                    Assert.True(DccpOptionValues.TryReadFeatureValue(v, out ulong window));
                    Assert.Equal(256UL, window);
                    break;
                case DccpOptionType.ConfirmL:
                    Assert.True(DccpOptionValues.TryReadFeature(o.Data, out byte f2, out ReadOnlySpan<byte> v2));
                    Assert.Equal(200, f2);
                    Assert.True(v2.IsEmpty);
                    break;
                case DccpOptionType.NdpCount:
                    Assert.True(DccpOptionValues.TryReadNdpCount(o.Data, out ulong ndp));
                    Assert.Equal(0x0102_0304_05UL, ndp);
                    break;
                case DccpOptionType.AckVector1:
                    Assert.Equal(new AckVectorRun(AckVectorState.Received, 64), AckVector.Decode(o.Data[0]));
                    Assert.Equal(new AckVectorRun(AckVectorState.NotReceived, 2), AckVector.Decode(o.Data[1]));
                    Assert.Equal(66, AckVector.CountPackets(o.Data));
                    break;
                case DccpOptionType.Timestamp:
                    Assert.True(DccpOptionValues.TryReadTimestamp(o.Data, out uint ts));
                    Assert.Equal(0xCAFEBABEu, ts);
                    break;
                case DccpOptionType.TimestampEcho:
                    Assert.True(DccpOptionValues.TryReadTimestampEcho(o.Data, out uint echo, out uint elapsed));
                    Assert.Equal((0x11223344u, 70000u), (echo, elapsed));
                    break;
                case DccpOptionType.ElapsedTime:
                    Assert.True(DccpOptionValues.TryReadElapsedTime(o.Data, out uint e2));
                    Assert.Equal(300u, e2);
                    break;
                case DccpOptionType.DataChecksum:
                    Assert.True(DccpOptionValues.TryReadDataChecksum(o.Data, out uint crc));
                    Assert.Equal(Crc32C.Compute(p.Payload), crc);
                    break;
                case DccpOptionType.InitCookie:
                    Assert.Equal([9, 8, 7], o.Data.ToArray());
                    break;
                case DccpOptionType.DataDropped:
                    Assert.Equal([0x00, 0x81], o.Data.ToArray());
                    break;
            }

            count++;
        }

        Assert.True(count >= 14);
    }

    [Fact]
    public void Crc32c_matches_the_rfc3720_check_value()
    {
        // RFC 3720 B.4: CRC-32c of "123456789" is 0xE3069283.
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
    }

    [Fact]
    public void Header_space_is_bounded_by_1020_bytes()
    {
        byte[] buffer = new byte[4096];
        var w = new DccpPacketWriter(buffer);
        Assert.True(w.WriteHeader(new DccpHeader { Type = DccpPacketType.Ack }));
        int added = 0;
        while (w.TryAddOption(DccpOptionType.InitCookie, new byte[100]))
        {
            added++;
        }

        Assert.True(w.Length <= DccpPacket.MaxHeaderLength);
        Assert.Equal(9, added);
        Assert.True(w.Finish([], V4A, V4B) > 0);
    }
}
