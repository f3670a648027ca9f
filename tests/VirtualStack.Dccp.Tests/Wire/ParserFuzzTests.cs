using System.Diagnostics;
using System.Runtime.CompilerServices;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Protocol;

namespace VirtualStack.Dccp.Tests.Wire;

/// <summary>
/// Property tests of the parser on hostile input: random bytes, random headers, and mutations of valid packets.
/// Whatever comes in, the parser returns a result without throwing, every span it hands out lies inside the input,
/// the option enumerator terminates, and the decoders accept or refuse without throwing. Fixed seeds keep failures
/// reproducible; the seed and iteration are in every failure message.
/// </summary>
public class ParserFuzzTests
{
    private const int Iterations = 120_000;
    private static readonly NetAddress A = NetAddress.Parse("10.0.0.1");
    private static readonly NetAddress B = NetAddress.Parse("fd00::2");

    [Theory]
    [InlineData(1)]
    [InlineData(4340)]
    public void Random_bytes_never_throw(int seed)
    {
        var random = new Random(seed);
        byte[] buffer = new byte[1100];
        var stopwatch = Stopwatch.StartNew();
        var results = new int[8];
        for (int i = 0; i < Iterations; i++)
        {
            int length = random.Next(0, i % 10 == 0 ? buffer.Length : 80);
            random.NextBytes(buffer.AsSpan(0, length));
            if (i % 2 == 0 && length >= 16)
            {
                // Bias toward headers that get past the first checks: a plausible type and Data Offset.
                buffer[8] = (byte)((random.Next(0, 11) << 1) | random.Next(0, 2));
                buffer[4] = (byte)random.Next(3, (length / 4) + 2);
            }

            results[(int)Exercise(buffer.AsSpan(0, length), seed, i)]++;
        }

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"fuzzing took {stopwatch.Elapsed}");
        Assert.True(results[(int)DccpParseResult.Ok] > 100, "the biased generator should produce some valid headers");
    }

    [Theory]
    [InlineData(7)]
    [InlineData(4341)]
    public void Mutated_valid_packets_never_throw(int seed)
    {
        var random = new Random(seed);
        byte[] original = new byte[600];
        byte[] buffer = new byte[700];
        var stopwatch = Stopwatch.StartNew();
        int ok = 0;
        for (int i = 0; i < Iterations; i++)
        {
            int length = BuildValid(random, original);
            original.AsSpan(0, length).CopyTo(buffer);
            int mutations = random.Next(1, 5);
            for (int m = 0; m < mutations; m++)
            {
                switch (random.Next(0, 5))
                {
                    case 0: buffer[random.Next(0, length)] ^= (byte)(1 << random.Next(0, 8)); break;
                    case 1: buffer[random.Next(0, length)] = (byte)random.Next(0, 256); break;
                    case 2: length = random.Next(0, length + 1); break;
                    case 3:
                        int extra = random.Next(1, 40);
                        random.NextBytes(buffer.AsSpan(length, extra));
                        length += extra;
                        break;
                    default: buffer[random.Next(0, Math.Min(length + 1, 20)) % Math.Max(length, 1)] = (byte)random.Next(0, 256); break;
                }

                length = Math.Min(length, buffer.Length - 40);
            }

            if (Exercise(buffer.AsSpan(0, length), seed, i) == DccpParseResult.Ok)
            {
                ok++;
            }
        }

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"fuzzing took {stopwatch.Elapsed}");
        Assert.True(ok > Iterations / 10, $"only {ok} mutants parsed");
    }

    private static DccpParseResult Exercise(ReadOnlySpan<byte> input, int seed, int iteration)
    {
        try
        {
            DccpParseResult result = DccpPacket.TryParse(input, out DccpPacket p);
            if (result is DccpParseResult.Ok or DccpParseResult.MalformedOptions)
            {
                AssertInside(input, p.Options, seed, iteration);
                AssertInside(input, p.Payload, seed, iteration);
                Assert.Equal(input.Length, p.HeaderLength + p.Payload.Length);
                _ = DccpChecksum.Verify(input, A, B);
                _ = DccpChecksum.Coverage(input);
                int guard = 0;
                var options = p.EnumerateOptions();
                while (options.MoveNext())
                {
                    Assert.True(++guard <= input.Length, "option enumeration must terminate");
                    DccpOption o = options.Current;
                    AssertInside(input, o.Data, seed, iteration);
                    _ = o.HasValidLength;
                    _ = DccpOptionValues.TryReadFeature(o.Data, out _, out ReadOnlySpan<byte> values);
                    _ = DccpOptionValues.TryReadFeatureValue(values, out _);
                    _ = DccpOptionValues.TryReadTimestamp(o.Data, out _);
                    _ = DccpOptionValues.TryReadTimestampEcho(o.Data, out _, out _);
                    _ = DccpOptionValues.TryReadElapsedTime(o.Data, out _);
                    _ = DccpOptionValues.TryReadNdpCount(o.Data, out _);
                    _ = DccpOptionValues.TryReadDataChecksum(o.Data, out _);
                    _ = AckVector.CountPackets(o.Data);
                }

                Assert.Equal(result == DccpParseResult.MalformedOptions, options.IsMalformed);
            }

            return result;
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            Assert.Fail($"seed {seed} iteration {iteration}: {e.GetType().Name} on {Convert.ToHexString(input)}: {e.Message}");
            throw;
        }
    }

    private static void AssertInside(ReadOnlySpan<byte> outer, ReadOnlySpan<byte> inner, int seed, int iteration)
    {
        if (inner.IsEmpty)
        {
            return;
        }

        long start = Unsafe.ByteOffset(ref Unsafe.AsRef(in outer[0]), ref Unsafe.AsRef(in inner[0]));
        Assert.True(start >= 0 && start + inner.Length <= outer.Length, $"seed {seed} iteration {iteration}: span outside the packet");
    }

    private static int BuildValid(Random random, byte[] buffer)
    {
        var type = (DccpPacketType)random.Next(0, 10);
        var header = new DccpHeader
        {
            SourcePort = (ushort)random.Next(), DestinationPort = (ushort)random.Next(), Type = type,
            Short = random.Next(0, 3) == 0, SequenceNumber = (ulong)random.NextInt64() & SequenceNumber.Mask,
            AcknowledgementNumber = (ulong)random.NextInt64() & SequenceNumber.Mask, ServiceCode = (uint)random.Next(),
            ResetCode = (DccpResetCode)random.Next(0, 12), CsCov = (byte)(random.Next(0, 4) == 0 ? random.Next(0, 16) : 0),
        };
        var w = new DccpPacketWriter(buffer);
        w.WriteHeader(header);
        int options = random.Next(0, 8);
        Span<byte> data = stackalloc byte[32];
        for (int o = 0; o < options; o++)
        {
            random.NextBytes(data);
            switch (random.Next(0, 8))
            {
                case 0: w.TryAddFeature(DccpOptionType.ChangeL, (byte)random.Next(1, 10), data[..random.Next(1, 4)], random.Next(0, 2) == 0); break;
                case 1: w.TryAddFeature(DccpOptionType.ConfirmR, (byte)random.Next(1, 10), data[..random.Next(0, 4)]); break;
                case 2: w.TryAddAckVector(data[..random.Next(1, 20)]); break;
                case 3: w.TryAddTimestamp((uint)random.Next()); break;
                case 4: w.TryAddTimestampEcho((uint)random.Next(), (uint)random.Next(0, 100000)); break;
                case 5: w.TryAddNdpCount((ulong)random.Next()); break;
                case 6: w.TryAddOption(DccpOptionType.SlowReceiver); break;
                default: w.TryAddOption((byte)random.Next(128, 256), data[..random.Next(0, 10)]); break;
            }
        }

        byte[] payload = new byte[random.Next(0, 200)];
        random.NextBytes(payload);
        return w.Finish(payload, A, B);
    }
}
